// soak import mprof: not read yet.

#include "readers.hpp"
#include "text.hpp"

namespace soak::importers::readers {

Recording mprof(std::string_view, const std::string& file) {
  text::fail(file, 0, 0, "the mprof reader is not built yet");
}

}  // namespace soak::importers::readers
