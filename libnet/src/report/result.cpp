#include <stdexcept>

#include <fmt/format.h>

#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

Section& Section::add_row(Row row) {
    if (row.size() != fields.size())
        throw std::logic_error(fmt::format("section '{}': row has {} cells, schema has {} fields",
                                           name, row.size(), fields.size()));
    rows.push_back(std::move(row));
    return *this;
}

Section& Section::add(Field field, Cell value) {
    if (rows.empty()) rows.emplace_back();
    fields.push_back(std::move(field));
    rows.front().push_back(std::move(value));
    return *this;
}

Section& Report::section(std::string name, std::string title, Section::Kind kind) {
    Section s;
    s.name = std::move(name);
    s.title = std::move(title);
    s.kind = kind;
    sections.push_back(std::move(s));
    return sections.back();
}

const Section* Report::find(std::string_view name) const {
    for (const auto& s : sections)
        if (s.name == name) return &s;
    return nullptr;
}

bool Report::any_check_failed() const {
    for (const auto& c : checks)
        if (c.failed) return true;
    return false;
}

ExitCode Report::exit_code() const {
    if (interrupted) return ExitCode::interrupted;
    if (failure) return failure->code;
    if (any_check_failed()) return ExitCode::check_failed;
    return ExitCode::ok;
}

nlohmann::json to_json(const Value& v) {
    return std::visit(
        [](const auto& x) -> nlohmann::json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>)
                return nullptr;
            else if constexpr (std::is_same_v<T, double>) {
                if (!std::isfinite(x)) return nullptr; // JSON has no NaN/Inf
                return x;
            } else if constexpr (std::is_same_v<T, std::string>)
                return escape_invalid_utf8(x);
            else
                return x;
        },
        v);
}

std::string format_value(const Value& v, Unit unit) {
    return std::visit(
        [unit](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>)
                return "-";
            else if constexpr (std::is_same_v<T, bool>)
                return x ? "yes" : "no";
            else if constexpr (std::is_same_v<T, std::string>)
                return x;
            else if constexpr (std::is_same_v<T, double>) {
                if (!std::isfinite(x)) return "-";
                return format_in_unit(x, unit);
            } else {
                if (unit == Unit::none) return std::to_string(x);
                return format_in_unit(static_cast<double>(x), unit);
            }
        },
        v);
}

} // namespace netdx
