#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A radiance field on a voxel grid: at each of R³ vertices a raw density and raw colour, read with
/// trilinear interpolation over the cube [−extent, extent]³. Density = softplus(raw), colour = sigmoid(raw).
/// Stored channel-major, [4][z][y][x] (density, red, green, blue): the layout of the tensor users get.
public struct Field {
    public let resolution: Int
    public var values: [Float]
    /// Half the cube's side: the world's orthographic view is 2.2 wide, so the field spans it.
    public static let extent: Float = 1.1

    public init(resolution r: Int, values: [Float]) {
        precondition(values.count == 4 * r * r * r)
        resolution = r
        self.values = values
    }

    /// The starting field: a density blob at the centre (Magic3D's initialisation: raw density
    /// a·(1 − |p|/radius), so there is something opaque for the gradients to shape) and grey colour.
    public init(blobResolution r: Int, amplitude: Float = 6, radius: Float = 0.8) {
        var v = [Float](repeating: 0, count: 4 * r * r * r)
        for z in 0..<r { for y in 0..<r { for x in 0..<r {
            let p = [x, y, z].map { Float($0) / Float(r - 1) * 2 * Field.extent - Field.extent }
            let d = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).squareRoot()
            v[(z * r + y) * r + x] = amplitude * (1 - d / radius)
        } } }
        self.init(resolution: r, values: v)
    }

    /// The 8 corner offsets (channel 0) and trilinear weights of point p, or nil outside the ball the
    /// field lives in (radius `extent`: every object of the world fits, and the cube's corners, which no
    /// view needs, cannot grow fog).
    @inline(__always)
    func corners(_ px: Float, _ py: Float, _ pz: Float) -> (base: Int, fx: Float, fy: Float, fz: Float)? {
        guard px * px + py * py + pz * pz < Field.extent * Field.extent else { return nil }
        let s = Float(resolution - 1) / (2 * Field.extent)
        let gx = (px + Field.extent) * s, gy = (py + Field.extent) * s, gz = (pz + Field.extent) * s
        let top = Float(resolution - 1)
        guard gx >= 0, gy >= 0, gz >= 0, gx < top, gy < top, gz < top else { return nil }
        let ix = Int(gx), iy = Int(gy), iz = Int(gz)
        return ((iz * resolution + iy) * resolution + ix, gx - Float(ix), gy - Float(iy), gz - Float(iz))
    }
}

@inline(__always) func softplus(_ x: Float) -> Float { x > 20 ? x : log1p(exp(x)) }
@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
