// soak import psrecord: not read yet.

#include "readers.hpp"
#include "text.hpp"

namespace soak::importers::readers {

Recording psrecord(std::string_view, const std::string& file) {
  text::fail(file, 0, 0, "the psrecord reader is not built yet");
}

}  // namespace soak::importers::readers
