#pragma once
// tracking.image (NanoTrack's TRACKING_IMAGE): a GIF, PNG or WebP file served instead of the
// 1x1 pixel. Read once at start-up; its Content-Type comes from the file's signature, never
// from its name.

#include <cstddef>
#include <string>
#include <string_view>

namespace pixelring {

inline constexpr size_t max_tracking_image_bytes = 64 * 1024;

struct tracking_image {
    std::string content_type; // image/gif, image/png or image/webp
    std::string body;
};

// "image/gif", "image/png", "image/webp" from the first bytes; "" for anything else.
std::string_view image_content_type(std::string_view bytes) noexcept;

// Reads path into out. "" on success, else a message naming tracking.image, the path and
// what is accepted.
std::string load_tracking_image(const std::string& path, tracking_image& out);

} // namespace pixelring
