#pragma once
// A small strict JSON reader for tests: enough to check events field by field. It decodes
// \uXXXX escapes (with surrogate pairs) into UTF-8 and rejects anything RFC 8259 forbids.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pixelring::test {

struct json_value {
    enum kind_t { null_t, bool_t, number_t, string_t, array_t, object_t } kind = null_t;
    bool b = false;
    double number = 0;
    std::string text; // string value, or the number's text
    std::vector<json_value> items;
    std::vector<std::pair<std::string, json_value>> members; // in document order

    const json_value* get(std::string_view key) const {
        for (const auto& [k, v] : members)
            if (k == key) return &v;
        return nullptr;
    }
    bool has(std::string_view key) const { return get(key) != nullptr; }
    // The string at key, "<null>" for null, "<absent>" when missing.
    std::string str(std::string_view key) const {
        const json_value* v = get(key);
        if (!v) return "<absent>";
        if (v->kind == null_t) return "<null>";
        return v->text;
    }
};

class json_reader {
public:
    // Parses a whole document; returns false (and sets error) on any syntax error.
    static bool parse(std::string_view text, json_value& out, std::string& error) {
        json_reader r(text);
        if (!r.value(out, 0)) {
            error = r.error_ + " at offset " + std::to_string(r.pos_);
            return false;
        }
        r.ws();
        if (r.pos_ != text.size()) {
            error = "trailing bytes at offset " + std::to_string(r.pos_);
            return false;
        }
        return true;
    }

private:
    explicit json_reader(std::string_view t) : s_(t) {}

    void ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool fail(const char* why) {
        error_ = why;
        return false;
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return fail("bad literal");
        pos_ += word.size();
        return true;
    }
    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(uint32_t& v) {
        if (pos_ + 4 > s_.size()) return fail("short \\u escape");
        v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= uint32_t(c - 'A' + 10);
            else
                return fail("bad hex digit");
        }
        return true;
    }
    bool string(std::string& out) {
        if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected string");
        ++pos_;
        while (pos_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[pos_++]);
            if (c == '"') return true;
            if (c < 0x20) return fail("raw control byte in string");
            if (c != '\\') {
                out += char(c);
                continue;
            }
            if (pos_ >= s_.size()) return fail("dangling backslash");
            char e = s_[pos_++];
            switch (e) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (s_.substr(pos_, 2) != "\\u") return fail("lone high surrogate");
                    pos_ += 2;
                    if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("bad low surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail("lone low surrogate");
                }
                put_utf8(out, cp);
                break;
            }
            default:
                return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }
    bool value(json_value& v, int depth) {
        if (depth > 64) return fail("too deep");
        ws();
        if (pos_ >= s_.size()) return fail("unexpected end");
        char c = s_[pos_];
        if (c == 'n') {
            v.kind = json_value::null_t;
            return literal("null");
        }
        if (c == 't') {
            v.kind = json_value::bool_t;
            v.b = true;
            return literal("true");
        }
        if (c == 'f') {
            v.kind = json_value::bool_t;
            return literal("false");
        }
        if (c == '"') {
            v.kind = json_value::string_t;
            return string(v.text);
        }
        if (c == '[') {
            v.kind = json_value::array_t;
            ++pos_;
            ws();
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                return true;
            }
            for (;;) {
                v.items.emplace_back();
                if (!value(v.items.back(), depth + 1)) return false;
                ws();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == ']') {
                    ++pos_;
                    return true;
                }
                return fail("expected , or ]");
            }
        }
        if (c == '{') {
            v.kind = json_value::object_t;
            ++pos_;
            ws();
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                return true;
            }
            for (;;) {
                ws();
                std::string key;
                if (!string(key)) return false;
                ws();
                if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected :");
                ++pos_;
                json_value member;
                if (!value(member, depth + 1)) return false;
                v.members.emplace_back(std::move(key), std::move(member));
                ws();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == '}') {
                    ++pos_;
                    return true;
                }
                return fail("expected , or }");
            }
        }
        // Number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
        size_t start = pos_;
        if (s_[pos_] == '-') ++pos_;
        auto digits = [&] {
            size_t b = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9')
                ++pos_;
            return pos_ - b;
        };
        if (pos_ < s_.size() && s_[pos_] == '0')
            ++pos_;
        else if (digits() == 0)
            return fail("bad value");
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            if (digits() == 0) return fail("bad fraction");
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (digits() == 0) return fail("bad exponent");
        }
        v.kind = json_value::number_t;
        v.text = std::string(s_.substr(start, pos_ - start));
        v.number = std::stod(v.text);
        return true;
    }

    std::string_view s_;
    size_t pos_ = 0;
    std::string error_;
};

} // namespace pixelring::test
