// simd.h: the instruction set chosen at run time, and the attribute used to compile one function
// body for several instruction sets (GCC's target_clones picks the best at load time). No
// -march=native anywhere: one build runs on any x86-64.
#pragma once

namespace electra {

enum class Isa { Scalar, Avx2, Avx512 };
Isa cpu_isa();
const char* isa_name(Isa isa);
bool cpu_has_avx512_bf16();

}  // namespace electra

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ELECTRA_MULTIVERSION __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define ELECTRA_MULTIVERSION
#endif
