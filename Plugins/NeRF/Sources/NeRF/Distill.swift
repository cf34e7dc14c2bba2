#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A seeded 64-bit generator (SplitMix64): the plugin's own, so a distillation is a function of its seed.
public struct SplitMix {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }
}

/// A view drawn for one step: the world's two kinds ("seen from the side": elevation 5–25°, "from above":
/// 50–75°), any azimuth, so the matching condition can be used for each.
public struct View {
    public let camera: Camera
    public let above: Bool
}

/// Fits a field to a score on its renders: each step draws `batch` views, renders them, asks `score` for
/// ∂L/∂images (score distillation, or any image loss), carries it back through the renderer, adds a
/// total-variation penalty and takes an Adam step on the field and its background.
public struct Distillation {
    public var steps = 500
    public var batch = 1
    public var size = 64
    public var resolution = 32
    public var learningRate: Float = 0.03
    /// The background's learning rate, as a multiple of the field's: it should settle before the field
    /// starts painting the background's colour into fog.
    public var backgroundRate: Float = 10
    /// Weight of the squared differences between neighbouring vertices (per channel; smooths the grid).
    public var smoothness: Float = 0
    public var seed: UInt64 = 0
    public var renderer = VolumeRenderer(samples: 64)

    public init() {}

    public static func drawView(_ rng: inout SplitMix) -> View {
        let azimuth = rng.uniform() * 2 * Float.pi
        let above = rng.uniform() < 0.5
        let degrees: Float = above ? 50 + 25 * rng.uniform() : 5 + 20 * rng.uniform()
        return View(camera: Camera(azimuth: azimuth, elevation: degrees * .pi / 180), above: above)
    }

    /// `score(images [batch·3·size·size], views, step)` returns ∂L/∂images, or nil to stop (failure or
    /// interruption: the caller knows which). `progress(step)` returns false to stop. Returns the field
    /// and background after the last completed step.
    public func run(score: ([Float], [View], Int) -> [Float]?, progress: (Int) -> Bool) -> (field: Field, background: [Float], completed: Int) {
        var field = Field(blobResolution: resolution)
        var background = [Float](repeating: 0, count: 6)
        let n = field.values.count
        var m = [Float](repeating: 0, count: n + 6), v = m
        let (b1, b2, eps): (Float, Float, Float) = (0.9, 0.99, 1e-8)
        var rng = SplitMix(seed: seed)
        let pixels = 3 * size * size
        for step in 0..<steps {
            let views = (0..<batch).map { _ in Distillation.drawView(&rng) }
            let offsets = (0..<batch).map { _ in (0..<size * size).map { _ in rng.uniform() } }
            var images = [Float](); images.reserveCapacity(batch * pixels)
            for (i, view) in views.enumerated() {
                images += renderer.render(field, background: background, camera: view.camera, size: size, offsets: offsets[i])
            }
            guard let g = score(images, views, step) else { return (field, background, step) }
            var grad = [Float](repeating: 0, count: n), bgGrad = [Float](repeating: 0, count: 6)
            for (i, view) in views.enumerated() {
                renderer.backward(field, background: background, camera: view.camera, size: size, offsets: offsets[i],
                                  cotangent: Array(g[i * pixels..<(i + 1) * pixels]), fieldGradient: &grad, backgroundGradient: &bgGrad)
            }
            if smoothness > 0 { addSmoothnessGradient(field, &grad) }
            // Adam with bias correction, over the field's values and then the background's six.
            let t = Float(step + 1)
            let c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t)
            for j in 0..<n + 6 {
                let gj = j < n ? grad[j] : bgGrad[j - n]
                m[j] = b1 * m[j] + (1 - b1) * gj
                v[j] = b2 * v[j] + (1 - b2) * gj * gj
                let update = learningRate * (j < n ? 1 : backgroundRate) * (m[j] / c1) / ((v[j] / c2).squareRoot() + eps)
                if j < n { field.values[j] -= update } else { background[j - n] -= update }
            }
            if !progress(step + 1) { return (field, background, step + 1) }
        }
        return (field, background, steps)
    }

    /// ∂/∂values of smoothness · Σ over neighbouring vertex pairs (per channel) of their squared difference.
    func addSmoothnessGradient(_ field: Field, _ grad: inout [Float]) {
        let r = field.resolution, plane = r * r * r
        let strides = [1, r, r * r]
        for c in 0..<4 {
            for z in 0..<r { for y in 0..<r { for x in 0..<r {
                let o = c * plane + (z * r + y) * r + x
                let coords = [x, y, z]
                for axis in 0..<3 where coords[axis] + 1 < r {
                    let d = field.values[o] - field.values[o + strides[axis]]
                    grad[o] += 2 * smoothness * d
                    grad[o + strides[axis]] -= 2 * smoothness * d
                }
            } } }
        }
    }
}
