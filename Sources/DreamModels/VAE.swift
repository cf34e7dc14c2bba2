import Foundation
import DreamTensor

/// AutoencoderKL: encoder to a diagonal Gaussian over latents (its mean is used), decoder back to images
/// in [-1, 1]. Scaling by the config's scaling_factor is left to the pipeline.
public final class VAE {
    struct Mid { let r1: ResnetBlock, attn: VAEAttention, r2: ResnetBlock }
    let encIn: Conv2d, encDowns: [([ResnetBlock], Downsample?)], encMid: Mid, encNorm: GroupNorm, encOut: Conv2d, quant: Conv2d
    let postQuant: Conv2d, decIn: Conv2d, decMid: Mid, decUps: [([ResnetBlock], Upsample?)], decNorm: GroupNorm, decOut: Conv2d
    public let latentChannels: Int, scalingFactor: Float, downscale: Int
    /// Channels of the decoder's full-resolution blocks (its memory per pixel).
    public let fullResolutionChannels: Int

    public init(config c: Config, weights w: WeightStore) throws {
        let blocks = try c.ints("block_out_channels")
        fullResolutionChannels = blocks.first ?? 0
        for t in try c.strings("down_block_types") where t != "DownEncoderBlock2D" { throw ModelError("\(c.path): unsupported encoder block \(t)") }
        for t in try c.strings("up_block_types") where t != "UpDecoderBlock2D" { throw ModelError("\(c.path): unsupported decoder block \(t)") }
        let layers = try c.int("layers_per_block", 1), groups = try c.int("norm_num_groups", 32)
        let inC = try c.int("in_channels", 3), outC = try c.int("out_channels", 3)
        latentChannels = try c.int("latent_channels", 4)
        scalingFactor = try c.float("scaling_factor", 0.18215)
        downscale = 1 << (blocks.count - 1)
        let eps: Float = 1e-6
        func mid(_ p: String, _ ch: Int) -> Mid {
            Mid(r1: ResnetBlock(w, p + ".resnets.0", in: ch, out: ch, temb: nil, groups: groups, eps: eps),
                attn: VAEAttention(w, p + ".attentions.0", channels: ch, groups: groups, eps: eps),
                r2: ResnetBlock(w, p + ".resnets.1", in: ch, out: ch, temb: nil, groups: groups, eps: eps))
        }
        encIn = Conv2d(w, "encoder.conv_in", in: inC, out: blocks[0], kernel: 3, padding: 1)
        var downs: [([ResnetBlock], Downsample?)] = []
        var ch = blocks[0]
        for (i, out) in blocks.enumerated() {
            let p = "encoder.down_blocks.\(i)"
            let rs = (0..<layers).map { j in ResnetBlock(w, "\(p).resnets.\(j)", in: j == 0 ? ch : out, out: out, temb: nil, groups: groups, eps: eps) }
            ch = out
            downs.append((rs, i == blocks.count - 1 ? nil : Downsample(w, "\(p).downsamplers.0", channels: out, padding: 0)))
        }
        encDowns = downs
        let top = blocks[blocks.count - 1]
        encMid = mid("encoder.mid_block", top)
        encNorm = GroupNorm(w, "encoder.conv_norm_out", groups: groups, channels: top, eps: eps)
        encOut = Conv2d(w, "encoder.conv_out", in: top, out: 2 * latentChannels, kernel: 3, padding: 1)
        quant = Conv2d(w, "quant_conv", in: 2 * latentChannels, out: 2 * latentChannels, kernel: 1)
        postQuant = Conv2d(w, "post_quant_conv", in: latentChannels, out: latentChannels, kernel: 1)
        decIn = Conv2d(w, "decoder.conv_in", in: latentChannels, out: top, kernel: 3, padding: 1)
        decMid = mid("decoder.mid_block", top)
        var ups: [([ResnetBlock], Upsample?)] = []
        ch = top
        for (i, out) in blocks.reversed().enumerated() {
            let p = "decoder.up_blocks.\(i)"
            let rs = (0...layers).map { j in ResnetBlock(w, "\(p).resnets.\(j)", in: j == 0 ? ch : out, out: out, temb: nil, groups: groups, eps: eps) }
            ch = out
            ups.append((rs, i == blocks.count - 1 ? nil : Upsample(w, "\(p).upsamplers.0", channels: out)))
        }
        decUps = ups
        decNorm = GroupNorm(w, "decoder.conv_norm_out", groups: groups, channels: blocks[0], eps: eps)
        decOut = Conv2d(w, "decoder.conv_out", in: blocks[0], out: outC, kernel: 3, padding: 1)
        try w.finish(component: "vae")
    }

    /// The mean of the latent distribution of images [B, 3, H, W] in [-1, 1] (unscaled).
    public func encodeMean(_ x: Tensor) throws -> Tensor {
        try encodeMoments(x).sliced(axis: 1, start: 0, end: latentChannels)
    }

    /// The latent distribution's moments [B, 2·latent channels, h, w]: means, then log-variances.
    public func encodeMoments(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[2] % downscale == 0, x.shape[3] % downscale == 0 else {
            throw ModelError("vae: images must be [B, C, H, W] with H and W multiples of \(downscale), got \(shapeString(x.shape))")
        }
        var h = try encIn(x)
        for (rs, d) in encDowns {
            for r in rs { h = try r(h) }
            if let d { h = try d(h) }
        }
        h = try encMid.r2(encMid.attn(encMid.r1(h)))
        return try quant(encOut(encNorm(h).silu()))
    }

    /// Images in about [-1, 1] from (unscaled) latents.
    public func decode(_ z: Tensor) throws -> Tensor {
        guard z.rank == 4, z.shape[1] == latentChannels else { throw ModelError("vae: latents must be [B, \(latentChannels), H, W], got \(shapeString(z.shape))") }
        var h = try decIn(postQuant(z))
        h = try decMid.r2(decMid.attn(decMid.r1(h)))
        for (rs, u) in decUps {
            for r in rs { h = try r(h) }
            if let u { h = try u(h) }
        }
        return try decOut(decNorm(h).silu())
    }
    /// Bytes the encoder or decoder needs for one image of height × width pixels: its full-resolution
    /// activations, several alive at once (an estimate, generous, for refusing work before it starts).
    public func memory(height: Int, width: Int) -> Double {
        Double(height * width) * Double(fullResolutionChannels) * 4 * 36
    }

    /// `decode`, image by image: one image's activations at a time, so a large batch needs no more
    /// memory than one (each image goes through the same operations as in a batch). Refused before it starts
    /// when one image and the result would not fit.
    public func decodeEach(_ z: Tensor) throws -> Tensor {
        guard z.rank == 4, z.shape[1] == latentChannels else { throw ModelError("vae: latents must be [B, \(latentChannels), H, W], got \(shapeString(z.shape))") }
        let (n, h, w) = (z.shape[0], z.shape[2] * downscale, z.shape[3] * downscale)
        try checkMemory(images: n, height: h, width: w, what: "decoding \(n) latent\(n == 1 ? "" : "s") to \(w)×\(h)")
        return try concatenate((0..<n).map { try decode(z.sliced(axis: 0, start: $0, end: $0 + 1)) }, axis: 0)
    }

    /// `encodeMean`, image by image (see `decodeEach`).
    public func encodeMeanEach(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { return try encodeMean(x) }   // encodeMean names the expected shape
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        try checkMemory(images: n, height: h, width: w, what: "encoding \(n) image\(n == 1 ? "" : "s") of \(w)×\(h)")
        return try concatenate((0..<n).map { try encodeMean(x.sliced(axis: 0, start: $0, end: $0 + 1)) }, axis: 0)
    }

    func checkMemory(images n: Int, height h: Int, width w: Int, what: String) throws {
        do { try Memory.check(memory(height: h, width: w) + 2 * Double(n) * 3 * Double(h * w) * 4, for: what) }
        catch let e as TensorError { throw ModelError(e.message + " (a smaller size:, or fewer images)") }
    }
}
