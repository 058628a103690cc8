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
// PiSSA's fast start, peft's init_lora_weights="pissa_niter_[n]": the top r triplets come from
// the randomized SVD (svd_lowrank(W0, r, n), as peft's torch.svd_lowrank(W, q=r, niter=n)),
// its test matrix drawn from a Generator seeded with the layer's options().seed. The residual
// is formed from the A and B it gives, so the output is still unchanged at step 0.
//
//   Lora layer(base, options);  init_lora_from_svd(layer, SvdInit::Principal);
//   init_lora_from_svd(layer, SvdInit::Principal, /*niter=*/4);   // randomized
#pragma once
#include <iosfwd>
#include <vector>

#include "nn/peft/lora.h"

namespace neat {

enum class SvdInit { Principal, Minor };   // PiSSA, MiLoRA

// Sets A and B from W0's SVD (niter = -1) or randomized SVD (niter >= 0, Principal only) and
// subtracts s B A from W0 (shared with the wrapped Linear). Errors when the rank exceeds
// min(OUT, IN), the layer is merged, or niter is given for MiLoRA.
void init_lora_from_svd(Lora& layer, SvdInit which, int64_t niter = -1);

// init_lora_from_svd on every layer, in order. When the whole takes more than announce_after
// seconds (estimated from the layers done so far), says so on `progress` (when not null), in
// one line completed at the end: "pissa: SVD of 24 weights (768 x 768) ... 3.1 s".
void init_loras_from_svd(const std::vector<Lora*>& layers, SvdInit which, int64_t niter,
                         std::ostream* progress, double announce_after = 1.0);

}  // namespace neat
