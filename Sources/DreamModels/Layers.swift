import DreamTensor

/// The basic layers, each taking its weights by checkpoint key (prefix + ".weight"/".bias").

public struct Linear {
    public var weight: Weight
    public var bias: Tensor?
    public init(_ w: WeightStore, _ prefix: String, in inF: Int, out outF: Int, bias: Bool = true) {
        weight = w.takeWeight(prefix + ".weight", [outF, inF])
        self.bias = bias ? w.take(prefix + ".bias", [outF]) : nil
    }
    init(weight: Weight, bias: Tensor?) { self.weight = weight; self.bias = bias }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight.tensor(), bias: bias) }

    /// The layer cut in two by output features (first half, second half), for a call: two products
    /// instead of one product and two strided slices of its result.
    public func halves() throws -> (Linear, Linear) {
        let n = weight.shape[0] / 2
        return (Linear(weight: try weight.rows(0..<n), bias: try bias?.sliced(axis: 0, end: n)),
                Linear(weight: try weight.rows(n..<2 * n), bias: try bias?.sliced(axis: 0, start: n)))
    }
}

public struct Conv2d {
    public var weight: Weight
    public var bias: Tensor?
    public let stride: Int, padding: Int
    public init(_ w: WeightStore, _ prefix: String, in inC: Int, out outC: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
        weight = w.takeWeight(prefix + ".weight", [outC, inC, kernel, kernel])
        self.bias = bias ? w.take(prefix + ".bias", [outC]) : nil
        self.stride = stride; self.padding = padding
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.conv2d(weight.tensor(), bias: bias, stride: stride, padding: padding) }
}

public struct GroupNorm {
    public var weight: Tensor, bias: Tensor
    public let groups: Int, eps: Float
    public init(_ w: WeightStore, _ prefix: String, groups: Int, channels: Int, eps: Float) {
        weight = w.take(prefix + ".weight", [channels]); bias = w.take(prefix + ".bias", [channels])
        self.groups = groups; self.eps = eps
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps) }
}

public struct LayerNorm {
    public var weight: Tensor, bias: Tensor
    public let eps: Float
    public init(_ w: WeightStore, _ prefix: String, dim: Int, eps: Float) {
        weight = w.take(prefix + ".weight", [dim]); bias = w.take(prefix + ".bias", [dim])
        self.eps = eps
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// Multi-head attention with separate q/k/v projections and an output projection, as diffusers'
/// `Attention` (keys to_q, to_k, to_v, to_out.0) and CLIP's (q_proj, k_proj, v_proj, out_proj).
public struct MultiHeadAttention {
    public var q: Linear, k: Linear, v: Linear, out: Linear
    public let heads: Int
    public let causal: Bool

    /// diffusers naming.
    public init(diffusers w: WeightStore, _ prefix: String, queryDim: Int, contextDim: Int, heads: Int, headDim: Int, qkvBias: Bool = false) {
        let inner = heads * headDim
        q = Linear(w, prefix + ".to_q", in: queryDim, out: inner, bias: qkvBias)
        k = Linear(w, prefix + ".to_k", in: contextDim, out: inner, bias: qkvBias)
        v = Linear(w, prefix + ".to_v", in: contextDim, out: inner, bias: qkvBias)
        out = Linear(w, prefix + ".to_out.0", in: inner, out: queryDim)
        self.heads = heads; causal = false
    }

    /// CLIP naming, causal.
    public init(clip w: WeightStore, _ prefix: String, dim: Int, heads: Int) {
        q = Linear(w, prefix + ".q_proj", in: dim, out: dim)
        k = Linear(w, prefix + ".k_proj", in: dim, out: dim)
        v = Linear(w, prefix + ".v_proj", in: dim, out: dim)
        out = Linear(w, prefix + ".out_proj", in: dim, out: dim)
        self.heads = heads; causal = true
    }

    /// x [B, N, D]; context [B, M, Dc] (nil: self-attention).
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil) throws -> Tensor {
        let c = context ?? x
        return try out(Tensor.attention(q(x), k(c), v(c), heads: heads, causal: causal))
    }
}
