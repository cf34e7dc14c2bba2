/// Vectorised transcendental functions (8 lanes), accurate to a few ulp, so that activations and
/// softmax run at memory speed instead of one libm call per element.
public typealias F8 = SIMD8<Float>

@inline(__always) func exp8(_ x: F8) -> F8 {
    // Cephes expf: x = n ln2 + r, exp(r) by a degree-6 polynomial, 2^n by building the exponent bits.
    // Clamped by blends: SIMD's generic clamped(…) is not inlined and costs a call per vector.
    var xc = x
    xc.replace(with: -87.3, where: x .< -87.3)
    xc.replace(with: 88.7, where: x .> 88.7)
    // Round to nearest by the 1.5·2^23 trick: after the add, the low mantissa bits hold the integer.
    let magic = F8(repeating: 0x1.8p23)
    let shifted = xc * 1.44269504088896341 + magic
    let n = shifted - magic
    var r = xc - n * 0.693359375
    r = r + n * 2.12194440e-4
    var p = F8(repeating: 1.9875691500E-4)
    p = p * r + 1.3981999507E-3
    p = p * r + 8.3334519073E-3
    p = p * r + 4.1665795894E-2
    p = p * r + 1.6666665459E-1
    p = p * r + 5.0000001201E-1
    let y = p * r * r + r + 1
    let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    var result = y * unsafeBitCast(bits, to: F8.self)
    result.replace(with: 0, where: x .< -87.3)
    result.replace(with: .infinity, where: x .> 88.7)
    result.replace(with: x, where: x .!= x)   // NaN stays NaN
    return result
}

@inline(__always) func sigmoid8(_ x: F8) -> F8 { 1 / (1 + exp8(-x)) }

@inline(__always) func tanh8(_ x: F8) -> F8 {
    // tanh = sign(x) (1 - 2 / (exp(2|x|) + 1)), exact enough and overflow-free.
    let a = abs8(x)
    let t = 1 - 2 / (exp8(2 * a) + 1)
    var r = t
    r.replace(with: -t, where: x .< 0)
    return r
}

@inline(__always) func abs8(_ x: F8) -> F8 {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: F8.self)
}

@inline(__always) func erf8(_ x: F8) -> F8 {
    // Abramowitz & Stegun 7.1.26, max abs error 1.5e-7.
    let a = abs8(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p = F8(repeating: 1.061405429)
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let y = 1 - p * t * exp8(-a * a)
    var r = y
    r.replace(with: -y, where: x .< 0)
    return r
}

/// Applies an 8-lane function to `n` floats (the tail goes through one padded vector).
@inline(__always) func map8(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (F8) -> F8) {
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: F8.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: F8.self)
        i += 8
    }
    if i < n {
        var v = F8(repeating: 0)
        for j in 0..<(n - i) { v[j] = x[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { y[i + j] = r[j] }
    }
}

/// Two-input version of `map8`.
@inline(__always) func zip8(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (F8, F8) -> F8) {
    var i = 0
    while i + 8 <= n {
        let va = UnsafeRawPointer(a + i).loadUnaligned(as: F8.self)
        let vb = UnsafeRawPointer(b + i).loadUnaligned(as: F8.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: f(va, vb), as: F8.self)
        i += 8
    }
    if i < n {
        var va = F8(repeating: 0), vb = F8(repeating: 0)
        for j in 0..<(n - i) { va[j] = a[i + j]; vb[j] = b[i + j] }
        let r = f(va, vb)
        for j in 0..<(n - i) { y[i + j] = r[j] }
    }
}

/// Lane-wise clamp to [lo, hi] by blends (see exp8).
@inline(__always) func clamp8(_ x: F8, _ lo: F8, _ hi: F8) -> F8 {
    var r = x
    r.replace(with: lo, where: x .< lo)
    r.replace(with: hi, where: x .> hi)
    return r
}
