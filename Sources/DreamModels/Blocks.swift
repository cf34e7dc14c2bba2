import DreamTensor

/// Building blocks shared by the UNet and the VAE, named as in diffusers' checkpoints.

/// ResnetBlock2D: norm1 → SiLU → conv1 (+ time embedding) → norm2 → SiLU → conv2, plus the input
/// (through conv_shortcut when the channel count changes).
public struct ResnetBlock {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d
    let timeProj: Linear?, shortcut: Conv2d?
    public init(_ w: WeightStore, _ p: String, in inC: Int, out outC: Int, temb: Int?, groups: Int, eps: Float) {
        norm1 = GroupNorm(w, p + ".norm1", groups: groups, channels: inC, eps: eps)
        conv1 = Conv2d(w, p + ".conv1", in: inC, out: outC, kernel: 3, padding: 1)
        timeProj = temb.map { Linear(w, p + ".time_emb_proj", in: $0, out: outC) }
        norm2 = GroupNorm(w, p + ".norm2", groups: groups, channels: outC, eps: eps)
        conv2 = Conv2d(w, p + ".conv2", in: outC, out: outC, kernel: 3, padding: 1)
        shortcut = inC != outC ? Conv2d(w, p + ".conv_shortcut", in: inC, out: outC, kernel: 1) : nil
    }
    public func callAsFunction(_ x: Tensor, temb: Tensor? = nil) throws -> Tensor {
        var h = try conv1(norm1(x).silu())
        if let timeProj, let temb {
            let t = try timeProj(temb.silu())
            h = try h + t.reshaped([t.shape[0], t.shape[1], 1, 1])
        }
        h = try conv2(norm2(h).silu())
        return try (shortcut.map { try $0(x) } ?? x) + h
    }
}

/// Downsample2D: a stride-2 3×3 convolution; with padding 0 the input is first padded by one on the
/// right and bottom (the VAE's convention).
public struct Downsample {
    let conv: Conv2d
    let asymmetric: Bool
    public init(_ w: WeightStore, _ p: String, channels: Int, padding: Int) {
        conv = Conv2d(w, p + ".conv", in: channels, out: channels, kernel: 3, stride: 2, padding: padding)
        asymmetric = padding == 0
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv(asymmetric ? x.padded2d(left: 0, right: 1, top: 0, bottom: 1) : x)
    }
}

/// Upsample2D: nearest 2× then a 3×3 convolution.
public struct Upsample {
    let conv: Conv2d
    public init(_ w: WeightStore, _ p: String, channels: Int) {
        conv = Conv2d(w, p + ".conv", in: channels, out: channels, kernel: 3, padding: 1)
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try conv(x.upsampleNearest2x()) }
}

/// Images [B, C, H, W] as token sequences [B, H·W, C] and back.
func toTokens(_ x: Tensor) throws -> Tensor {
    try x.permuted([0, 2, 3, 1]).reshaped([x.shape[0], x.shape[2] * x.shape[3], x.shape[1]])
}
func fromTokens(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    try x.reshaped([x.shape[0], height, width, x.shape[2]]).permuted([0, 3, 1, 2])
}

/// BasicTransformerBlock: self-attention, cross-attention on the text, GEGLU feed-forward, each after a
/// layer norm and with a residual.
public struct TransformerBlock {
    let norm1: LayerNorm, attn1: MultiHeadAttention, norm2: LayerNorm, attn2: MultiHeadAttention
    let norm3: LayerNorm, geglu: Linear, ffOut: Linear
    public init(_ w: WeightStore, _ p: String, dim: Int, heads: Int, contextDim: Int) {
        let dh = dim / heads, inner = dim * 4
        norm1 = LayerNorm(w, p + ".norm1", dim: dim, eps: 1e-5)
        attn1 = MultiHeadAttention(diffusers: w, p + ".attn1", queryDim: dim, contextDim: dim, heads: heads, headDim: dh)
        norm2 = LayerNorm(w, p + ".norm2", dim: dim, eps: 1e-5)
        attn2 = MultiHeadAttention(diffusers: w, p + ".attn2", queryDim: dim, contextDim: contextDim, heads: heads, headDim: dh)
        norm3 = LayerNorm(w, p + ".norm3", dim: dim, eps: 1e-5)
        geglu = Linear(w, p + ".ff.net.0.proj", in: dim, out: inner * 2)
        ffOut = Linear(w, p + ".ff.net.2", in: inner, out: dim)
    }
    public func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        var h = try x + attn1(norm1(x))
        h = try h + attn2(norm2(h), context: context)
        // GEGLU: the projection's first half gated by GELU of its second half.
        let x3 = try norm3(h), (value, gate) = try geglu.halves()
        return try h + ffOut(value(x3) * gate(x3).gelu())
    }
}

/// Transformer2DModel over a feature map: group norm, projection in (1×1 conv, or linear for SD 2.x),
/// transformer blocks, projection out, residual.
public struct SpatialTransformer {
    let norm: GroupNorm
    let projInConv: Conv2d?, projInLinear: Linear?, projOutConv: Conv2d?, projOutLinear: Linear?
    let blocks: [TransformerBlock]
    public init(_ w: WeightStore, _ p: String, channels: Int, heads: Int, contextDim: Int, groups: Int, linear: Bool, depth: Int = 1) {
        norm = GroupNorm(w, p + ".norm", groups: groups, channels: channels, eps: 1e-6)
        if linear {
            projInLinear = Linear(w, p + ".proj_in", in: channels, out: channels); projInConv = nil
        } else {
            projInConv = Conv2d(w, p + ".proj_in", in: channels, out: channels, kernel: 1); projInLinear = nil
        }
        blocks = (0..<depth).map { TransformerBlock(w, p + ".transformer_blocks.\($0)", dim: channels, heads: heads, contextDim: contextDim) }
        if linear {
            projOutLinear = Linear(w, p + ".proj_out", in: channels, out: channels); projOutConv = nil
        } else {
            projOutConv = Conv2d(w, p + ".proj_out", in: channels, out: channels, kernel: 1); projOutLinear = nil
        }
    }
    public func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        let (hgt, wid) = (x.shape[2], x.shape[3])
        var h = try norm(x)
        if let c = projInConv { h = try toTokens(c(h)) } else { h = try projInLinear!(toTokens(h)) }
        for b in blocks { h = try b(h, context: context) }
        if let c = projOutConv { h = try c(fromTokens(h, height: hgt, width: wid)) } else { h = try fromTokens(projOutLinear!(h), height: hgt, width: wid) }
        return try h + x
    }
}

/// The VAE's single-head attention over a feature map (group_norm, to_q/k/v, to_out.0, residual).
public struct VAEAttention {
    let norm: GroupNorm, attn: MultiHeadAttention
    public init(_ w: WeightStore, _ p: String, channels: Int, groups: Int, eps: Float) {
        norm = GroupNorm(w, p + ".group_norm", groups: groups, channels: channels, eps: eps)
        attn = MultiHeadAttention(diffusers: w, p, queryDim: channels, contextDim: channels, heads: 1, headDim: channels, qkvBias: true)
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try attn(toTokens(norm(x)))
        return try fromTokens(h, height: x.shape[2], width: x.shape[3]) + x
    }
}
