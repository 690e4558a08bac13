// soak import perfmon: not read yet.

#include "readers.hpp"
#include "text.hpp"

namespace soak::importers::readers {

Recording perfmon(std::string_view, const std::string& file) {
  text::fail(file, 0, 0, "the perfmon reader is not built yet");
}

}  // namespace soak::importers::readers
