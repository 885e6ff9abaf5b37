#include "net/http/tracking_image.hh"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace pixelring {

std::string_view image_content_type(std::string_view b) noexcept {
    if (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a") return "image/gif";
    if (b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return "image/webp";
    return {};
}

std::string load_tracking_image(const std::string& path, tracking_image& out) {
    constexpr std::string_view accepted = "a GIF, PNG or WebP file of at most 64 KiB";
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return fmt::format("tracking.image = \"{}\": cannot read it ({}); expected {}", path,
                           std::strerror(errno), accepted);
    std::string body;
    char chunk[16384];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
        body.append(chunk, size_t(in.gcount()));
        if (body.size() > max_tracking_image_bytes)
            return fmt::format("tracking.image = \"{}\": larger than 64 KiB; expected {}", path,
                               accepted);
    }
    std::string_view type = image_content_type(body);
    if (type.empty())
        return fmt::format("tracking.image = \"{}\": not a GIF, PNG or WebP image (by its first "
                           "bytes); expected {}",
                           path, accepted);
    out.content_type = std::string(type);
    out.body = std::move(body);
    return {};
}

} // namespace pixelring
