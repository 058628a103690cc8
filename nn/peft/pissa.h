// PiSSA (Meng et al. 2024) and MiLoRA (Wang et al. 2024): LoRA started from singular triplets
// of the frozen weight instead of (kaiming A, zero B), as peft's init_lora_weights="pissa":
//
//   W0 = U diag(S) Vh                          (thin SVD, tensor/svd.h)
//   PiSSA: the top r triplets; MiLoRA: the bottom r (the smallest singular values)
//   A = diag(sqrt(S_r / s)) Vh_r   [R, IN],   B = U_r diag(sqrt(S_r / s))   [OUT, R]
//   W0 <- W0 - s B A               (the residual: s B A is exactly the chosen part of W0)
//
// so the layer's output is unchanged at step 0, while training moves the principal (PiSSA) or
// minor (MiLoRA) subspace. s = alpha / r is LoRA's scaling; dividing S by s before the square
// root makes s B A = U_r diag(S_r) Vh_r whatever alpha is.
//
//   Lora layer(base, options);  init_lora_from_svd(layer, SvdInit::Principal);
#pragma once
#include "nn/peft/lora.h"

namespace neat {

enum class SvdInit { Principal, Minor };   // PiSSA, MiLoRA

// Sets A and B from W0's SVD and subtracts s B A from W0 (shared with the wrapped Linear).
// Errors when the rank exceeds min(OUT, IN) or the layer is merged.
void init_lora_from_svd(Lora& layer, SvdInit which);

}  // namespace neat
