import Foundation
import DreamTensor

/// CLIP's text transformer as transformers' CLIPTextModel (keys text_model.*), returning the last hidden
/// state after the final layer norm: what Stable Diffusion's UNet is conditioned on. SD 2.x's "penultimate
/// layer" is already in its diffusers config (one layer fewer).
public final class CLIPTextModel {
    public struct Layer {
        let norm1: LayerNorm, attn: MultiHeadAttention, norm2: LayerNorm, fc1: Linear, fc2: Linear
    }
    public let tokenEmbedding: Tensor, positionEmbedding: Tensor
    public let layers: [Layer]
    public let finalNorm: LayerNorm
    public let hidden: Int, maxPositions: Int
    public let quickGelu: Bool

    public init(config c: Config, weights w: WeightStore) throws {
        let hidden = try c.int("hidden_size")
        self.hidden = hidden
        let inter = try c.int("intermediate_size"), heads = try c.int("num_attention_heads")
        let vocab = try c.int("vocab_size"), count = try c.int("num_hidden_layers")
        maxPositions = try c.int("max_position_embeddings", 77)
        let act = try c.string("hidden_act", "quick_gelu")
        guard act == "quick_gelu" || act == "gelu" else { throw ModelError("\(c.path): unsupported hidden_act '\(act)' (expected quick_gelu or gelu)") }
        quickGelu = act == "quick_gelu"
        let eps = try c.float("layer_norm_eps", 1e-5)
        // Checkpoints saved by transformers prefix everything with text_model.
        let p = w.has("text_model.embeddings.token_embedding.weight") || !w.has("embeddings.token_embedding.weight") ? "text_model." : ""
        tokenEmbedding = w.take(p + "embeddings.token_embedding.weight", [vocab, hidden])
        positionEmbedding = w.take(p + "embeddings.position_embedding.weight", [maxPositions, hidden])
        layers = (0..<count).map { i in
            let l = p + "encoder.layers.\(i)"
            return Layer(norm1: LayerNorm(w, l + ".layer_norm1", dim: hidden, eps: eps),
                         attn: MultiHeadAttention(clip: w, l + ".self_attn", dim: hidden, heads: heads),
                         norm2: LayerNorm(w, l + ".layer_norm2", dim: hidden, eps: eps),
                         fc1: Linear(w, l + ".mlp.fc1", in: hidden, out: inter),
                         fc2: Linear(w, l + ".mlp.fc2", in: inter, out: hidden))
        }
        finalNorm = LayerNorm(w, p + "final_layer_norm", dim: hidden, eps: eps)
        try w.finish(component: "text encoder", ignoring: { $0.hasSuffix("position_ids") || $0.hasPrefix("text_projection") })
    }

    /// Hidden states [B, N, hidden] of token ids (rows of equal length ≤ max positions).
    public func callAsFunction(ids: [[Int]]) throws -> Tensor {
        let n = ids.first?.count ?? 0
        guard n > 0, n <= maxPositions, ids.allSatisfy({ $0.count == n }) else {
            throw ModelError("text encoder: token rows must have equal length 1…\(maxPositions)")
        }
        let tokens = try Tensor.embedding(tokenEmbedding, ids: ids.flatMap { $0 }, shape: [ids.count, n])
        return try encode(embeddings: tokens)
    }

    /// The transformer on token embeddings [B, N, hidden] (positional embeddings are added here): the
    /// entry point for learned prompt vectors, which replace some token embeddings.
    public func encode(embeddings: Tensor) throws -> Tensor {
        let n = embeddings.shape[1]
        var h = try embeddings + positionEmbedding.sliced(axis: 0, start: 0, end: n)
        for l in layers {
            h = try h + l.attn(l.norm1(h))
            let m = try l.fc1(l.norm2(h))
            h = try h + l.fc2(quickGelu ? m.quickGelu() : m.gelu())
        }
        return try finalNorm(h)
    }
}
