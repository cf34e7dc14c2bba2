import Foundation
import DreamTensor

/// UNet2DConditionModel (Stable Diffusion 1.x/2.x family), built from its diffusers config: down blocks
/// (CrossAttnDownBlock2D / DownBlock2D), a cross-attention mid block, up blocks, with the checkpoint's
/// key names.
public final class UNet {
    struct DownBlock { let resnets: [ResnetBlock]; let attentions: [SpatialTransformer]; let down: Downsample? }
    struct UpBlock { let resnets: [ResnetBlock]; let attentions: [SpatialTransformer]; let up: Upsample? }

    let timeChannels: Int, flipSinToCos: Bool, freqShift: Float
    let timeLinear1: Linear, timeLinear2: Linear
    let convIn: Conv2d
    let downs: [DownBlock]
    let mid: (ResnetBlock, SpatialTransformer, ResnetBlock)
    let ups: [UpBlock]
    let normOut: GroupNorm, convOut: Conv2d
    public let inChannels: Int, outChannels: Int, crossAttentionDim: Int, sampleSize: Int
    /// The most channels any block has (its memory per latent pixel).
    public let widestChannels: Int
    /// What latent sides must be a multiple of: the downsampling blocks halve them, the up blocks double back.
    public var latentMultiple: Int { 1 << downs.filter { $0.down != nil }.count }

    public init(config c: Config, weights w: WeightStore) throws {
        let blocks = try c.ints("block_out_channels")
        widestChannels = blocks.max() ?? 0
        let downTypes = try c.strings("down_block_types"), upTypes = try c.strings("up_block_types")
        guard downTypes.count == blocks.count, upTypes.count == blocks.count else {
            throw ModelError("\(c.path): \(downTypes.count) down and \(upTypes.count) up block types for \(blocks.count) block_out_channels")
        }
        for t in downTypes where t != "CrossAttnDownBlock2D" && t != "DownBlock2D" { throw ModelError("\(c.path): unsupported down block type \(t)") }
        for t in upTypes where t != "CrossAttnUpBlock2D" && t != "UpBlock2D" { throw ModelError("\(c.path): unsupported up block type \(t)") }
        let midType = try c.string("mid_block_type", "UNetMidBlock2DCrossAttn")
        guard midType == "UNetMidBlock2DCrossAttn" else { throw ModelError("\(c.path): unsupported mid block type \(midType)") }
        if !c.isNull("class_embed_type") || !c.isNull("addition_embed_type") || !c.isNull("encoder_hid_dim") {
            throw ModelError("\(c.path): class/addition embeddings (SDXL and relatives) are not supported")
        }
        let layers = try c.int("layers_per_block", 2)
        let groups = try c.int("norm_num_groups", 32), eps = try c.float("norm_eps", 1e-5)
        let cross = try c.int("cross_attention_dim")
        crossAttentionDim = cross
        inChannels = try c.int("in_channels", 4); outChannels = try c.int("out_channels", 4)
        sampleSize = try c.int("sample_size", 64)
        let linear = c.bool("use_linear_projection", false)
        // diffusers' legacy naming: attention_head_dim holds the number of heads unless num_attention_heads is set.
        guard let heads = try c.intOrList("num_attention_heads", count: blocks.count) ?? c.intOrList("attention_head_dim", count: blocks.count),
              heads.count == blocks.count else { throw ModelError("\(c.path): attention heads must be one number or one per block") }
        if let depth = try c.intOrList("transformer_layers_per_block", count: blocks.count), depth.contains(where: { $0 != 1 }) {
            throw ModelError("\(c.path): transformer_layers_per_block other than 1 is not supported")
        }
        timeChannels = blocks[0]
        flipSinToCos = c.bool("flip_sin_to_cos", true)
        freqShift = try c.float("freq_shift", 0)
        let temb = blocks[0] * 4
        timeLinear1 = Linear(w, "time_embedding.linear_1", in: blocks[0], out: temb)
        timeLinear2 = Linear(w, "time_embedding.linear_2", in: temb, out: temb)
        convIn = Conv2d(w, "conv_in", in: inChannels, out: blocks[0], kernel: 3, padding: 1)
        let downPadding = try c.int("downsample_padding", 1)

        var downs: [DownBlock] = []
        var out = blocks[0]
        for (i, type) in downTypes.enumerated() {
            let inC = out
            out = blocks[i]
            let p = "down_blocks.\(i)"
            let resnets = (0..<layers).map { j in ResnetBlock(w, "\(p).resnets.\(j)", in: j == 0 ? inC : out, out: out, temb: temb, groups: groups, eps: eps) }
            let attns = type == "CrossAttnDownBlock2D" ? (0..<layers).map { j in
                SpatialTransformer(w, "\(p).attentions.\(j)", channels: out, heads: heads[i], contextDim: cross, groups: groups, linear: linear)
            } : []
            let final = i == blocks.count - 1
            downs.append(DownBlock(resnets: resnets, attentions: attns, down: final ? nil : Downsample(w, "\(p).downsamplers.0", channels: out, padding: downPadding)))
        }
        self.downs = downs
        let top = blocks[blocks.count - 1]
        mid = (ResnetBlock(w, "mid_block.resnets.0", in: top, out: top, temb: temb, groups: groups, eps: eps),
               SpatialTransformer(w, "mid_block.attentions.0", channels: top, heads: heads[heads.count - 1], contextDim: cross, groups: groups, linear: linear),
               ResnetBlock(w, "mid_block.resnets.1", in: top, out: top, temb: temb, groups: groups, eps: eps))

        var ups: [UpBlock] = []
        let rev = Array(blocks.reversed()), revHeads = Array(heads.reversed())
        var outC = rev[0]
        for (i, type) in upTypes.enumerated() {
            let prev = outC
            outC = rev[i]
            let inC = rev[min(i + 1, rev.count - 1)]
            let p = "up_blocks.\(i)"
            let n = layers + 1
            let resnets = (0..<n).map { j -> ResnetBlock in
                let skip = j == n - 1 ? inC : outC
                return ResnetBlock(w, "\(p).resnets.\(j)", in: (j == 0 ? prev : outC) + skip, out: outC, temb: temb, groups: groups, eps: eps)
            }
            let attns = type == "CrossAttnUpBlock2D" ? (0..<n).map { j in
                SpatialTransformer(w, "\(p).attentions.\(j)", channels: outC, heads: revHeads[i], contextDim: cross, groups: groups, linear: linear)
            } : []
            let final = i == blocks.count - 1
            ups.append(UpBlock(resnets: resnets, attentions: attns, up: final ? nil : Upsample(w, "\(p).upsamplers.0", channels: outC)))
        }
        self.ups = ups
        normOut = GroupNorm(w, "conv_norm_out", groups: groups, channels: blocks[0], eps: eps)
        convOut = Conv2d(w, "conv_out", in: blocks[0], out: outChannels, kernel: 3, padding: 1)
        try w.finish(component: "unet")
    }

    /// The model's prediction (noise or v) for latents x [B, C, H, W] at timesteps t (one per item)
    /// conditioned on context [B, N, cross_attention_dim].
    public func callAsFunction(_ x: Tensor, timesteps t: [Float], context: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[1] == inChannels else { throw ModelError("unet: latents must be [B, \(inChannels), H, W], got \(shapeString(x.shape))") }
        guard t.count == x.shape[0] else { throw ModelError("unet: \(t.count) timesteps for a batch of \(x.shape[0])") }
        guard context.rank == 3, context.shape[0] == x.shape[0], context.shape[2] == crossAttentionDim else {
            throw ModelError("unet: conditioning must be [\(x.shape[0]), N, \(crossAttentionDim)], got \(shapeString(context.shape))")
        }
        let levels = downs.count - 1
        guard x.shape[2] % (1 << levels) == 0, x.shape[3] % (1 << levels) == 0 else {
            throw ModelError("unet: latent height and width must be multiples of \(1 << levels), got \(x.shape[2])×\(x.shape[3])")
        }
        let tproj = try Tensor.timestepEmbedding(t, dim: timeChannels, flipSinToCos: flipSinToCos, downscaleFreqShift: freqShift)
        let temb = try timeLinear2(timeLinear1(tproj).silu())
        var h = try convIn(x)
        var skips = [h]
        for b in downs {
            for (j, r) in b.resnets.enumerated() {
                h = try r(h, temb: temb)
                if !b.attentions.isEmpty { h = try b.attentions[j](h, context: context) }
                skips.append(h)
            }
            if let d = b.down { h = try d(h); skips.append(h) }
        }
        h = try mid.0(h, temb: temb)
        h = try mid.1(h, context: context)
        h = try mid.2(h, temb: temb)
        for b in ups {
            for (j, r) in b.resnets.enumerated() {
                h = try r(concatenate([h, skips.removeLast()], axis: 1), temb: temb)
                if !b.attentions.isEmpty { h = try b.attentions[j](h, context: context) }
            }
            if let u = b.up { h = try u(h) }
        }
        return try convOut(normOut(h).silu())
    }
}
