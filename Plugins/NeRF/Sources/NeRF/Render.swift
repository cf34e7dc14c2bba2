#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The built-in world's camera: orthographic, looking at the origin from (azimuth, elevation) in radians,
/// y up, a view 2.2 wide — so renders of a field are framed like the images the model learned from.
public struct Camera {
    public let azimuth: Float, elevation: Float
    /// The view's basis, computed once: every ray of an image uses it.
    let forward: (Float, Float, Float), right: (Float, Float, Float), up: (Float, Float, Float)

    public init(azimuth: Float, elevation: Float) {
        self.azimuth = azimuth; self.elevation = elevation
        let f = (-cos(elevation) * sin(azimuth), -sin(elevation), -cos(elevation) * cos(azimuth))
        let r = (cos(azimuth), Float(0), -sin(azimuth))
        forward = f; right = r
        up = (r.1 * f.2 - r.2 * f.1, r.2 * f.0 - r.0 * f.2, r.0 * f.1 - r.1 * f.0)
    }
}

/// Emission–absorption volume rendering of a `Field` over a background that varies with screen height,
/// bg(v) = sigmoid(b₀ + b₁·v) per channel (the world's backgrounds are such gradients), and its exact
/// reverse mode. Every ray crosses the field's bounding sphere with `samples` equal steps, shifted by a
/// per-ray offset in [0, 1) (random while distilling, 0.5 for final renders).
public struct VolumeRenderer {
    public var samples = 64
    public init(samples: Int = 64) { self.samples = samples }

    /// Near and far distances along every ray: the eye is 3 from the origin, the field's corners √3·1.1 away.
    static let eye: Float = 3, reach: Float = Field.extent * Float(3).squareRoot()

    /// Image [3, size, size] in [0, 1].
    public func render(_ field: Field, background: [Float], camera: Camera, size: Int, offsets: [Float]? = nil) -> [Float] {
        var image = [Float](repeating: 0, count: 3 * size * size)
        var scratch = Scratch(samples)
        for py in 0..<size { for px in 0..<size {
            let k = py * size + px
            let c = trace(field, background, camera, size, px, py, offsets?[k] ?? 0.5, &scratch)
            image[k] = c.0; image[size * size + k] = c.1; image[2 * size * size + k] = c.2
        } }
        return image
    }

    /// Adds ∂L/∂(raw field values) and ∂L/∂(background parameters) for ∂L/∂image = `cotangent` [3, size, size].
    public func backward(_ field: Field, background: [Float], camera: Camera, size: Int, offsets: [Float]? = nil,
                         cotangent: [Float], fieldGradient: inout [Float], backgroundGradient: inout [Float]) {
        var scratch = Scratch(samples)
        let r = field.resolution, plane = r * r * r
        let f = camera.forward
        let delta = 2 * VolumeRenderer.reach / Float(samples)
        for py in 0..<size { for px in 0..<size {
            let k = py * size + px
            let g = (cotangent[k], cotangent[size * size + k], cotangent[2 * size * size + k])
            if g.0 == 0 && g.1 == 0 && g.2 == 0 { continue }
            _ = trace(field, background, camera, size, px, py, offsets?[k] ?? 0.5, &scratch)
            // Walking back to front, `rest` is the colour still to come behind sample i: Σ_{j>i} wⱼcⱼ + T_N·bg.
            let n = scratch.count
            let tEnd = scratch.transmittance[n]
            let bg = scratch.bg
            var rest = (tEnd * bg.0, tEnd * bg.1, tEnd * bg.2)
            // Background: C ∋ T_N·sigmoid(b₀ + b₁·v).
            let v = scratch.v
            let gb0 = tEnd * g.0 * bg.0 * (1 - bg.0), gb1 = tEnd * g.1 * bg.1 * (1 - bg.1), gb2 = tEnd * g.2 * bg.2 * (1 - bg.2)
            backgroundGradient[0] += gb0; backgroundGradient[1] += gb1; backgroundGradient[2] += gb2
            backgroundGradient[3] += gb0 * v; backgroundGradient[4] += gb1 * v; backgroundGradient[5] += gb2 * v
            let (ox, oy, oz) = scratch.origin
            for i in stride(from: n - 1, through: 0, by: -1) {
                let t = scratch.t[i]
                guard let cr = field.corners(ox + f.0 * t, oy + f.1 * t, oz + f.2 * t) else { continue }
                let ti = scratch.transmittance[i], a = scratch.alpha[i]
                let c = (scratch.color[3 * i], scratch.color[3 * i + 1], scratch.color[3 * i + 2])
                let w = ti * a
                // ∂C/∂cᵢ = wᵢ; ∂C/∂σᵢ = δ(T_{i+1}cᵢ − rest).
                let tNext = ti * (1 - a)
                let dSigma = delta * ((tNext * c.0 - rest.0) * g.0 + (tNext * c.1 - rest.1) * g.1 + (tNext * c.2 - rest.2) * g.2)
                let dRaw = (dSigma * scratch.sigmoidOfDensity[i],
                            w * g.0 * c.0 * (1 - c.0), w * g.1 * c.1 * (1 - c.1), w * g.2 * c.2 * (1 - c.2))
                rest = (rest.0 + w * c.0, rest.1 + w * c.1, rest.2 + w * c.2)
                scatter(cr, r, plane, dRaw, &fieldGradient)
            }
        } }
    }

    /// Per-ray working memory, reused across rays.
    struct Scratch {
        var t: [Float], alpha: [Float], transmittance: [Float], color: [Float], sigmoidOfDensity: [Float]
        var count = 0
        var origin: (Float, Float, Float) = (0, 0, 0)
        var v: Float = 0
        var bg: (Float, Float, Float) = (0, 0, 0)
        init(_ n: Int) {
            t = .init(repeating: 0, count: n); alpha = t; sigmoidOfDensity = t
            transmittance = .init(repeating: 0, count: n + 1); color = .init(repeating: 0, count: 3 * n)
        }
    }

    /// One ray's colour; leaves its samples in `s` for the backward pass.
    @inline(__always)
    func trace(_ field: Field, _ background: [Float], _ camera: Camera, _ size: Int, _ px: Int, _ py: Int, _ offset: Float,
               _ s: inout Scratch) -> (Float, Float, Float) {
        let half = Field.extent
        let uu = ((Float(px) + 0.5) / Float(size) * 2 - 1) * half
        let vv = (1 - (Float(py) + 0.5) / Float(size) * 2) * half
        let (f, rt, up) = (camera.forward, camera.right, camera.up)
        let e = VolumeRenderer.eye
        s.origin = (-f.0 * e + rt.0 * uu + up.0 * vv, -f.1 * e + rt.1 * uu + up.1 * vv, -f.2 * e + rt.2 * uu + up.2 * vv)
        s.v = vv / half
        s.bg = (sigmoid(background[0] + background[3] * s.v), sigmoid(background[1] + background[4] * s.v), sigmoid(background[2] + background[5] * s.v))
        let delta = 2 * VolumeRenderer.reach / Float(samples)
        let start = e - VolumeRenderer.reach
        var T: Float = 1
        var acc: (Float, Float, Float) = (0, 0, 0)
        let r = field.resolution, plane = r * r * r
        let (ox, oy, oz) = s.origin
        s.count = samples
        field.values.withUnsafeBufferPointer { vals in
            for i in 0..<samples {
                let t = start + (Float(i) + offset) * delta
                s.t[i] = t
                s.transmittance[i] = T
                guard let cr = field.corners(ox + f.0 * t, oy + f.1 * t, oz + f.2 * t) else {
                    s.alpha[i] = 0; s.sigmoidOfDensity[i] = 0
                    s.color[3 * i] = 0; s.color[3 * i + 1] = 0; s.color[3 * i + 2] = 0
                    continue
                }
                let raw = gather(cr, r, plane, vals)
                let sigma = softplus(raw.0)
                let a = 1 - exp(-sigma * delta)
                let c = (sigmoid(raw.1), sigmoid(raw.2), sigmoid(raw.3))
                s.alpha[i] = a; s.sigmoidOfDensity[i] = sigmoid(raw.0)
                s.color[3 * i] = c.0; s.color[3 * i + 1] = c.1; s.color[3 * i + 2] = c.2
                let w = T * a
                acc = (acc.0 + w * c.0, acc.1 + w * c.1, acc.2 + w * c.2)
                T *= 1 - a
            }
        }
        s.transmittance[samples] = T
        return (acc.0 + T * s.bg.0, acc.1 + T * s.bg.1, acc.2 + T * s.bg.2)
    }

    @inline(__always)
    func gather(_ cr: (base: Int, fx: Float, fy: Float, fz: Float), _ r: Int, _ plane: Int, _ v: UnsafeBufferPointer<Float>) -> (Float, Float, Float, Float) {
        var out: (Float, Float, Float, Float) = (0, 0, 0, 0)
        for dz in 0..<2 { for dy in 0..<2 { for dx in 0..<2 {
            let w = (dx == 0 ? 1 - cr.fx : cr.fx) * (dy == 0 ? 1 - cr.fy : cr.fy) * (dz == 0 ? 1 - cr.fz : cr.fz)
            let o = cr.base + (dz * r + dy) * r + dx
            out = (out.0 + w * v[o], out.1 + w * v[plane + o], out.2 + w * v[2 * plane + o], out.3 + w * v[3 * plane + o])
        } } }
        return out
    }

    @inline(__always)
    func scatter(_ cr: (base: Int, fx: Float, fy: Float, fz: Float), _ r: Int, _ plane: Int, _ g: (Float, Float, Float, Float), _ out: inout [Float]) {
        for dz in 0..<2 { for dy in 0..<2 { for dx in 0..<2 {
            let w = (dx == 0 ? 1 - cr.fx : cr.fx) * (dy == 0 ? 1 - cr.fy : cr.fy) * (dz == 0 ? 1 - cr.fz : cr.fz)
            let o = cr.base + (dz * r + dy) * r + dx
            out[o] += w * g.0; out[plane + o] += w * g.1; out[2 * plane + o] += w * g.2; out[3 * plane + o] += w * g.3
        } } }
    }
}
