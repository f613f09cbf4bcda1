// Include from exactly ONE translation unit of each executable that draws figures (its main).
// fontconfig, which Cairo uses for text, keeps its caches for the life of the process by design;
// LeakSanitizer (sanitize preset) would report them at exit and fail the run.
#pragma once

extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
