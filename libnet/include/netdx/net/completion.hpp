#pragma once
/// The io_uring backends' second path: operations the kernel carries out and then reports
/// (accept, receive, send), beside the readiness a Channel is told about. The loop's
/// UringPoller starts them (see uring_poller.hpp) and calls the Completion an operation was
/// started with, on the loop's thread, once per completion queue entry:
///
///   start op with &c ──► kernel runs it ──► CQE {res, flags} ──► c.on_complete(ev)
///                                              │
///                              ev.more: a multishot op stays armed and completes again;
///                              !ev.more: the op is over (its last completion)
///
/// Ownership: the caller owns each Completion and keeps it alive until the last completion
/// of every operation started with it (one with more == false), cancellations included:
/// the kernel holds its address until then.

#include <cstdint>

namespace netdx {

struct CompletionEvent {
    int res = 0;       ///< the operation's result: bytes, a descriptor, or -errno
    bool more = false; ///< a multishot operation stays armed: more completions follow
    int buffer = -1;   ///< the provided buffer the kernel filled (ProvidedBuffers id), or -1
};

class Completion {
public:
    virtual void on_complete(const CompletionEvent& ev) = 0;

protected:
    ~Completion() = default; // never owned through a Completion pointer
};

} // namespace netdx
