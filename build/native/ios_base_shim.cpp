// Provides std::ios_base_library_init(), which GCC 13's <iostream> emits and libstdc++ < 3.4.32
// lacks. Older libstdc++ initialises the standard streams itself, so a static Init object suffices.
#include <ios>
namespace std {
void ios_base_library_init() { static ios_base::Init init; }
}
