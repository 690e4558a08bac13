// soak import dotnet-counters: not read yet.

#include "readers.hpp"
#include "text.hpp"

namespace soak::importers::readers {

Recording dotnet_counters(std::string_view, const std::string& file) {
  text::fail(file, 0, 0, "the dotnet-counters reader is not built yet");
}

}  // namespace soak::importers::readers
