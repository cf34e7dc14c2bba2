import Foundation

/// Philox4x32-10 (Salmon et al. 2011), a counter-based generator: the numbers at position i depend
/// only on (seed, i), so any thread can produce any part of a stream and results never depend on how
/// work is split across threads.
@inline(__always) func philox(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> SIMD4<UInt32> {
    var (c0, c1, c2, c3) = counter
    var (k0, k1) = key
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0), p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        let (hi0, lo0) = (UInt32(truncatingIfNeeded: p0 >> 32), UInt32(truncatingIfNeeded: p0))
        let (hi1, lo1) = (UInt32(truncatingIfNeeded: p1 >> 32), UInt32(truncatingIfNeeded: p1))
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        k0 = k0 &+ 0x9E37_79B9; k1 = k1 &+ 0xBB67_AE85
    }
    return SIMD4(c0, c1, c2, c3)
}

/// A seeded stream of random numbers. Each draw consumes a range of counters, so a sequence of draws
/// is reproducible from the seed alone.
public struct RandomGenerator {
    public let seed: UInt64
    /// Blocks of four 32-bit numbers consumed so far.
    public private(set) var offset: UInt64 = 0

    public init(seed: UInt64) { self.seed = seed }

    var key: (UInt32, UInt32) { (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

    @inline(__always) func block(_ i: UInt64) -> SIMD4<UInt32> {
        philox((UInt32(truncatingIfNeeded: i), UInt32(truncatingIfNeeded: i >> 32), 0x6472_6561, 0x6d00_0000), key: key)
    }

    /// Fills `count` floats, four per block, with `f(block)`, in parallel.
    mutating func fill(_ count: Int, _ f: (SIMD4<UInt32>) -> SIMD4<Float>) -> Storage {
        let s = Storage(count: count)
        let blocks = (count + 3) / 4, base = offset, p = s.pointer
        let me = self
        parallelFor(blocks, grain: 4096) { r in
            for b in r {
                let v = f(me.block(base + UInt64(b)))
                for j in 0..<Swift.min(4, count - 4 * b) { p[4 * b + j] = v[j] }
            }
        }
        offset += UInt64(blocks)
        return s
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func uniform(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: fill(shape.reduce(1, *)) { SIMD4<Float>($0 &>> 8) * 0x1p-24 })
    }

    /// Standard normal by Box–Muller on pairs of uniforms.
    public mutating func normal(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: fill(shape.reduce(1, *)) { u in
            let a = (SIMD4<Float>(u &>> 8) + 1) * 0x1p-24   // (0, 1]: log is finite
            let r0 = (-2 * Foundation.log(a[0])).squareRoot(), r1 = (-2 * Foundation.log(a[2])).squareRoot()
            let t0 = 2 * Float.pi * a[1], t1 = 2 * Float.pi * a[3]
            return SIMD4(r0 * Foundation.cos(t0), r0 * Foundation.sin(t0), r1 * Foundation.cos(t1), r1 * Foundation.sin(t1))
        })
    }

    /// A uniform number in [0, 1) with 53 random bits.
    public mutating func double() -> Double {
        let b = block(offset)
        offset += 1
        return Double((UInt64(b[0]) << 21) ^ UInt64(b[1] >> 11)) * 0x1p-53
    }

    /// A uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        let b = block(offset)
        offset += 1
        let x = (UInt64(b[0]) << 32) | UInt64(b[1])
        return Int(x % UInt64(n))
    }
}

extension Tensor {
    public static func randn(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return g.normal(shape)
    }

    public static func rand(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return g.uniform(shape)
    }
}
