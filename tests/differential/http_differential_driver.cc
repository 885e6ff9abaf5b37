// The pixelring side of the differential test (tests/differential/differential.py): each case
// of a corpus goes through core/http/request_parser and core/http/chunked_decoder exactly as the
// worker feeds them (net/worker/worker_input.cc: consume and feed_body;
// net/worker/worker_requests.cc: handle_request's keep-alive rule), and one JSON line says what the
// server would do with it.
//
// Usage: http_differential_driver [--split] CORPUS       (CORPUS "-": standard input)
// CORPUS is "PXDIFF1\n" followed, per case, by a 4-byte little-endian length and the bytes.
// Every case is one connection's first bytes, delivered in one read. With --split it is
// delivered again in pieces of 1 to 16 bytes (a fixed pseudo-random sequence per case), as
// short reads would bring it, and a different outcome is reported as "split_mismatch".
//
// Every parse sees its input ending right before an unreadable page
// (tests/support/guarded_memory.hh), so a read past the bytes received crashes the driver instead
// of passing unnoticed.
//
// Output, one line per case in corpus order:
//   {"id":N, "verdict":"accept"|"reject"|"incomplete", "stage":"head"|"body",
//    "status":400, "reason":"...",                           (reject only)
//    "method":"POST", "target":"...", "version":"1.1",      (once the head is complete)
//    "head_length":N,                                        (offset one past the empty line)
//    "framing":"none"|"content-length"|"chunked", "content_length":N,
//    "body_read":"none"|"buffered"|"skipped"|"unread",
//    "body":"...", "end":N|null, "close":bool, "next":N|null}
// Strings hold bytes as JSON code points U+0000..U+00FF (decode as Latin-1). "end" is the
// offset one past the message; "next" is where the server would parse the next request, null
// when it closes the connection instead. "body" holds the decoded payload (chunked) or the
// bytes the Content-Length covers, whether buffered for a beacon or skipped.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/chunked_decoder.hh"
#include "core/http/request_parser.hh"
#include "tests/support/guarded_memory.hh"

namespace pixelring {
namespace {

constexpr std::string_view corpus_magic = "PXDIFF1\n";

// Where the server's reading of one message ended up.
struct outcome {
    std::string verdict = "incomplete"; // accept, reject, incomplete
    std::string stage = "head";         // head, body
    uint16_t status = 0;
    std::string reason;
    bool head_complete = false;
    std::string method;
    std::string target;
    std::string version;
    uint64_t head_length = 0;
    std::string framing = "none"; // none, content-length, chunked
    uint64_t content_length = 0;
    std::string body_read = "none"; // none, buffered, skipped, unread
    std::string body;
    std::optional<uint64_t> end;
    bool close = false;

    bool operator==(const outcome&) const = default;
};

const char* method_name(http_method m) {
    switch (m) {
    case http_method::get:
        return "GET";
    case http_method::head:
        return "HEAD";
    case http_method::post:
        return "POST";
    case http_method::put:
        return "PUT";
    case http_method::delete_:
        return "DELETE";
    case http_method::options:
        return "OPTIONS";
    case http_method::patch:
        return "PATCH";
    case http_method::trace:
        return "TRACE";
    case http_method::connect:
        return "CONNECT";
    }
    return "?";
}

// Runs one connection's bytes, delivered in pieces of the given sizes (their sum is
// input.size()), through the parser and the decoder as net/worker/worker_input.cc does.
class server_model {
public:
    server_model(const http_limits& limits, test::guarded_buffer& head_mem,
                 test::guarded_buffer& body_mem)
        : limits_(limits), head_mem_(head_mem), body_mem_(body_mem) {}

    outcome run(std::string_view input, const std::vector<size_t>& pieces) {
        outcome out;
        request_parser parser(limits_);
        chunked_decoder chunks(
            limits_.max_body_bytes); // as net/worker/connection_table.hh sizes it
        enum { reading_head, reading_cl_body, reading_chunked_body, done } state = reading_head;
        size_t delivered = 0; // bytes received so far
        size_t pos = 0;       // bytes consumed: the head, then the body
        uint64_t body_need = 0;

        for (size_t piece : pieces) {
            delivered += piece;
            // consume(): the unconsumed bytes [pos, delivered), as the connection's stage holds
            // them. The head is parsed from the stage's start again with a larger length.
            if (state == reading_head) {
                const std::string_view stage = input.substr(pos, delivered - pos);
                const char* buf = head_mem_.place(stage);
                http_request req;
                const parse_status st = parser.parse_head(buf, stage.size(), req);
                if (st == parse_status::need_more) continue;
                if (st == parse_status::error) {
                    // Both the 413 beacon answer and response_for_status close the connection.
                    return reject(out, "head", parser.error_status(), parser.error_reason());
                }
                out.head_complete = true;
                out.method = method_name(req.method);
                out.target = std::string(req.target);
                out.version = req.version_minor == 1 ? "1.1" : "1.0";
                const size_t head = req.head_length;
                out.head_length = pos + head;
                pos += head;
                // The beacon test of consume(): its body is buffered (and decoded) before the
                // request is handled; any other request is handled at once.
                const bool beacon = req.method == http_method::post && req.path == "/e";
                if (req.chunked) {
                    out.framing = "chunked";
                } else if (req.has_content_length) {
                    out.framing = "content-length";
                    out.content_length = req.content_length;
                }
                if (beacon && (req.chunked || (req.has_content_length && req.content_length > 0))) {
                    out.body_read = "buffered";
                    // handle_request: keep_alive = r.keep_alive (a chunked beacon may go on).
                    out.close = !req.keep_alive;
                    state = req.chunked ? reading_chunked_body : reading_cl_body;
                    body_need = req.chunked ? 0 : req.content_length;
                    chunks.reset();
                } else {
                    // handle_request: "A chunked body is read for beacons only; elsewhere the
                    // connection cannot go on." The body is then never read.
                    out.close = !req.keep_alive || req.chunked;
                    if (req.chunked) {
                        out.body_read = "unread";
                        out.verdict = "accept";
                        out.stage = "head";
                        return out;
                    }
                    if (req.has_content_length && req.content_length > 0) {
                        out.body_read = "skipped"; // consume(): c.body_left
                        state = reading_cl_body;
                        body_need = req.content_length;
                    } else {
                        state = done;
                    }
                }
            }
            if (state == reading_cl_body && delivered > pos) {
                // feed_body() for a beacon, or the body_left skip: the same count either way.
                const size_t take = size_t(std::min<uint64_t>(body_need, delivered - pos));
                out.body.append(input.substr(pos, take));
                pos += take;
                body_need -= take;
                if (body_need == 0) state = done;
            } else if (state == reading_chunked_body && delivered > pos) {
                // feed_body(): the new bytes are copied after the payload decoded so far and
                // decoded in place. The room left in a body buffer (max_header_bytes +
                // max_body_bytes + a receive buffer) exceeds every corpus case.
                const std::string_view fresh = input.substr(pos, delivered - pos);
                char* at = body_mem_.place(fresh);
                size_t decoded = fresh.size();
                size_t trailing = 0;
                const parse_status st = chunks.decode(at, &decoded, &trailing);
                if (st == parse_status::error) {
                    return reject(out, "body", chunks.error_status(), chunks.error_reason());
                }
                out.body.append(at, decoded);
                if (st == parse_status::complete) {
                    pos += fresh.size() - trailing;
                    state = done;
                } else {
                    pos += fresh.size();
                }
            }
            if (state == done) break;
        }
        if (state != done) {
            out.verdict = "incomplete";
            out.stage = out.head_complete ? "body" : "head";
            return out;
        }
        out.verdict = "accept";
        out.stage = out.framing == "none" ? "head" : "body";
        out.end = pos;
        return out;
    }

private:
    static outcome& reject(outcome& out, const char* stage, uint16_t status, const char* reason) {
        out.verdict = "reject";
        out.stage = stage;
        out.status = status;
        out.reason = reason;
        out.close = true;
        out.end.reset();
        out.body.clear(); // a refused body is dropped, however much of it was decoded
        return out;
    }

    const http_limits& limits_;
    test::guarded_buffer& head_mem_;
    test::guarded_buffer& body_mem_;
};

// Bytes as a JSON string of code points U+0000..U+00FF.
void append_json_string(std::string& out, std::string_view bytes) {
    out += '"';
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        }
    }
    out += '"';
}

std::string to_json(uint64_t id, const outcome& o, const std::string& split_mismatch) {
    std::string j = "{\"id\":" + std::to_string(id) + ",\"verdict\":\"" + o.verdict +
                    "\",\"stage\":\"" + o.stage + "\"";
    if (o.verdict == "reject") {
        j += ",\"status\":" + std::to_string(o.status) + ",\"reason\":";
        append_json_string(j, o.reason);
    }
    if (o.head_complete) {
        j += ",\"method\":";
        append_json_string(j, o.method);
        j += ",\"target\":";
        append_json_string(j, o.target);
        j += ",\"version\":\"" + o.version + "\",\"head_length\":" + std::to_string(o.head_length);
        j += ",\"framing\":\"" + o.framing + "\"";
        if (o.framing == "content-length")
            j += ",\"content_length\":" + std::to_string(o.content_length);
        j += ",\"body_read\":\"" + o.body_read + "\",\"body\":";
        append_json_string(j, o.body);
    }
    j += ",\"end\":" + (o.end ? std::to_string(*o.end) : std::string("null"));
    j += std::string(",\"close\":") + (o.close ? "true" : "false");
    j += ",\"next\":" + (o.end && !o.close ? std::to_string(*o.end) : std::string("null"));
    if (!split_mismatch.empty()) {
        j += ",\"split_mismatch\":";
        append_json_string(j, split_mismatch);
    }
    j += "}\n";
    return j;
}

// Pieces of 1 to 16 bytes from a small LCG seeded with the case number: the same every run.
std::vector<size_t> split_pieces(uint64_t id, size_t len) {
    std::vector<size_t> pieces;
    uint64_t x = id * 0x9E3779B97F4A7C15ull + 1;
    for (size_t left = len; left > 0;) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const size_t n = std::min<size_t>(left, 1 + ((x >> 33) % 16));
        pieces.push_back(n);
        left -= n;
    }
    return pieces;
}

bool read_corpus(std::FILE* f, std::vector<std::string>& cases) {
    std::string data;
    char chunk[65536];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0)
        data.append(chunk, n);
    if (std::string_view(data).substr(0, corpus_magic.size()) != corpus_magic) return false;
    size_t at = corpus_magic.size();
    while (at < data.size()) {
        if (data.size() - at < 4) return false;
        const auto* p = reinterpret_cast<const unsigned char*>(data.data() + at);
        const size_t len =
            size_t(p[0]) | size_t(p[1]) << 8 | size_t(p[2]) << 16 | size_t(p[3]) << 24;
        at += 4;
        if (data.size() - at < len) return false;
        cases.emplace_back(data, at, len);
        at += len;
    }
    return true;
}

int run(int argc, char** argv) {
    bool split = false;
    const char* path = nullptr;
    int paths = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--split") == 0) {
            split = true;
        } else {
            path = argv[i];
            ++paths;
        }
    }
    if (paths != 1) {
        std::fprintf(stderr, "usage: http_differential_driver [--split] CORPUS|-\n");
        return 2;
    }
    std::FILE* f = std::strcmp(path, "-") == 0 ? stdin : std::fopen(path, "rb");
    if (f == nullptr) {
        std::fprintf(stderr, "http_differential_driver: cannot open %s: %s\n", path,
                     std::strerror(errno));
        return 2;
    }
    std::vector<std::string> cases;
    const bool ok = read_corpus(f, cases);
    if (f != stdin) std::fclose(f);
    if (!ok) {
        std::fprintf(stderr, "http_differential_driver: %s is not a PXDIFF1 corpus\n", path);
        return 2;
    }

    size_t largest = 1;
    for (const auto& c : cases)
        largest = std::max(largest, c.size());
    // The server's defaults: http_limits{} holds core/config/config.hh's server.* defaults.
    const http_limits limits;
    test::guarded_buffer head_mem(largest);
    test::guarded_buffer body_mem(largest);
    server_model model(limits, head_mem, body_mem);

    std::string line;
    for (size_t id = 0; id < cases.size(); ++id) {
        const std::string& input = cases[id];
        const outcome whole = model.run(input, {input.size()});
        std::string mismatch;
        if (split && input.size() > 1) {
            const outcome pieces = model.run(input, split_pieces(id, input.size()));
            if (!(pieces == whole)) {
                mismatch = "in pieces: " + pieces.verdict + " " + std::to_string(pieces.status) +
                           " " + pieces.reason + " end " +
                           (pieces.end ? std::to_string(*pieces.end) : "null") + " body " +
                           std::to_string(pieces.body.size()) + " bytes" +
                           (pieces.body == whole.body ? "" : " (differs)");
            }
        }
        line = to_json(id, whole, mismatch);
        std::fwrite(line.data(), 1, line.size(), stdout);
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}

} // namespace
} // namespace pixelring

int main(int argc, char** argv) {
    return pixelring::run(argc, argv);
}
