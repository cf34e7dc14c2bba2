import Foundation

// MARK: Binary ops with broadcasting

protocol BinaryKernel {
    static func f(_ a: F8, _ b: F8) -> F8
}

enum AddK: BinaryKernel { @inline(__always) static func f(_ a: F8, _ b: F8) -> F8 { a + b } }
enum SubK: BinaryKernel { @inline(__always) static func f(_ a: F8, _ b: F8) -> F8 { a - b } }
enum MulK: BinaryKernel { @inline(__always) static func f(_ a: F8, _ b: F8) -> F8 { a * b } }
enum DivK: BinaryKernel { @inline(__always) static func f(_ a: F8, _ b: F8) -> F8 { a / b } }
enum PowK: BinaryKernel {
    @inline(__always) static func f(_ a: F8, _ b: F8) -> F8 {
        var r = F8()
        for i in 0..<8 { r[i] = Foundation.pow(a[i], b[i]) }
        return r
    }
}
/// d/da of a^b, times nothing: b * a^(b-1).
enum PowGradAK: BinaryKernel {
    @inline(__always) static func f(_ a: F8, _ b: F8) -> F8 {
        var r = F8()
        for i in 0..<8 { r[i] = b[i] == 0 ? 0 : b[i] * Foundation.pow(a[i], b[i] - 1) }
        return r
    }
}

/// out = K(a, b) with NumPy broadcasting. Every output element is computed independently.
func broadcastBinary<K: BinaryKernel>(_ k: K.Type, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    let shape = try broadcastShapes(a.shape, b.shape)
    let out = Tensor(uninitialized: shape)
    if out.count == 0 { return out }
    let plan = BroadcastPlan(out: shape, a: a.shape, b: b.shape)
    let pa = a.pointer, pb = b.pointer, py = out.pointer
    plan.forEachRun { o, oa, sa, ob, sb, n in
        let x = pa + oa, y = pb + ob, z = py + o
        switch (sa, sb) {
        case (1, 1): zip8(x, y, z, n, K.f)
        case (1, 0): let v = F8(repeating: y[0]); map8(x, z, n) { K.f($0, v) }
        case (0, 1): let v = F8(repeating: x[0]); map8(y, z, n) { K.f(v, $0) }
        default: z.update(repeating: K.f(F8(repeating: x[0]), F8(repeating: y[0]))[0], count: n)
        }
    }
    return out
}

extension Tensor {
    public static func + (a: Tensor, b: Tensor) throws -> Tensor {
        try broadcastBinary(AddK.self, a, b).recorded("add", [a, b]) { g, needs in
            [needs[0] ? try g.sum(toShape: a.shape) : nil, needs[1] ? try g.sum(toShape: b.shape) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) throws -> Tensor {
        try broadcastBinary(SubK.self, a, b).recorded("sub", [a, b]) { g, needs in
            [needs[0] ? try g.sum(toShape: a.shape) : nil, needs[1] ? try (-g).sum(toShape: b.shape) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) throws -> Tensor {
        try broadcastBinary(MulK.self, a, b).recorded("mul", [a, b]) { g, needs in
            [needs[0] ? try (g * b).sum(toShape: a.shape) : nil,
             needs[1] ? try (g * a).sum(toShape: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) throws -> Tensor {
        try broadcastBinary(DivK.self, a, b).recorded("div", [a, b]) { g, needs in
            [needs[0] ? try (g / b).sum(toShape: a.shape) : nil,
             needs[1] ? try (-(g * a) / (b * b)).sum(toShape: b.shape) : nil]
        }
    }

    /// Elementwise power a ** b.
    public func pow(_ b: Tensor) throws -> Tensor {
        let a = self
        let y = try broadcastBinary(PowK.self, a, b)
        return y.recorded("pow", [a, b]) { g, needs in
            [needs[0] ? try (g * broadcastBinary(PowGradAK.self, a, b)).sum(toShape: a.shape) : nil,
             needs[1] ? try (g * y * a.log()).sum(toShape: b.shape) : nil]
        }
    }

    public func pow(_ e: Float) throws -> Tensor {
        e == 2 ? try self * self : try pow(Tensor(scalar: e))
    }

    public static func + (a: Tensor, s: Float) throws -> Tensor { try a + Tensor(scalar: s) }
    public static func - (a: Tensor, s: Float) throws -> Tensor { try a - Tensor(scalar: s) }
    public static func * (a: Tensor, s: Float) throws -> Tensor { try a * Tensor(scalar: s) }
    public static func / (a: Tensor, s: Float) throws -> Tensor { try a * Tensor(scalar: 1 / s) }
    public static func + (s: Float, a: Tensor) throws -> Tensor { try Tensor(scalar: s) + a }
    public static func - (s: Float, a: Tensor) throws -> Tensor { try Tensor(scalar: s) - a }
    public static func * (s: Float, a: Tensor) throws -> Tensor { try Tensor(scalar: s) * a }
    public static func / (s: Float, a: Tensor) throws -> Tensor { try Tensor(scalar: s) / a }
}

// MARK: Unary ops

protocol UnaryKernel {
    static var name: String { get }
    static func f(_ x: F8) -> F8
    /// The input gradient from the output gradient g at input x.
    static func grad(_ g: F8, _ x: F8) -> F8
}

enum NegK: UnaryKernel {
    static let name = "neg"
    @inline(__always) static func f(_ x: F8) -> F8 { -x }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { -g }
}
enum ExpK: UnaryKernel {
    static let name = "exp"
    @inline(__always) static func f(_ x: F8) -> F8 { exp8(x) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { g * exp8(x) }
}
enum LogK: UnaryKernel {
    static let name = "log"
    @inline(__always) static func f(_ x: F8) -> F8 {
        var r = F8()
        for i in 0..<8 { r[i] = Foundation.log(x[i]) }
        return r
    }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { g / x }
}
enum SqrtK: UnaryKernel {
    static let name = "sqrt"
    @inline(__always) static func f(_ x: F8) -> F8 { x.squareRoot() }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { g * 0.5 / x.squareRoot() }
}
/// √x whose gradient is 0 where x = 0 (a standard deviation of identical values has no direction to
/// move; plain √ would give ∞·0 = NaN there).
enum SafeSqrtK: UnaryKernel {
    static let name = "sqrt"
    @inline(__always) static func f(_ x: F8) -> F8 { x.squareRoot() }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 {
        var r = g * 0.5 / x.squareRoot()
        r.replace(with: 0, where: x .<= 0)
        return r
    }
}
enum AbsK: UnaryKernel {
    static let name = "abs"
    @inline(__always) static func f(_ x: F8) -> F8 { abs8(x) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 {
        var s = F8(repeating: 0)
        s.replace(with: 1, where: x .> 0)
        s.replace(with: -1, where: x .< 0)
        return g * s
    }
}
enum SigmoidK: UnaryKernel {
    static let name = "sigmoid"
    @inline(__always) static func f(_ x: F8) -> F8 { sigmoid8(x) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { let s = sigmoid8(x); return g * s * (1 - s) }
}
enum TanhK: UnaryKernel {
    static let name = "tanh"
    @inline(__always) static func f(_ x: F8) -> F8 { tanh8(x) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { let t = tanh8(x); return g * (1 - t * t) }
}
enum SiLUK: UnaryKernel {
    static let name = "silu"
    @inline(__always) static func f(_ x: F8) -> F8 { x * sigmoid8(x) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 { let s = sigmoid8(x); return g * (s + x * s * (1 - s)) }
}
enum GELUK: UnaryKernel {   // exact: x Φ(x)
    static let name = "gelu"
    @inline(__always) static func f(_ x: F8) -> F8 { 0.5 * x * (1 + erf8(x * 0.7071067811865476)) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 {
        let cdf = 0.5 * (1 + erf8(x * 0.7071067811865476))
        let pdf = exp8(-0.5 * x * x) * 0.3989422804014327
        return g * (cdf + x * pdf)
    }
}
enum GELUTanhK: UnaryKernel {
    static let name = "gelu_tanh"
    @inline(__always) static func f(_ x: F8) -> F8 {
        0.5 * x * (1 + tanh8(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 {
        let u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        let t = tanh8(u)
        let du = 0.7978845608028654 * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
    }
}
enum QuickGELUK: UnaryKernel {   // CLIP's x σ(1.702 x)
    static let name = "quick_gelu"
    @inline(__always) static func f(_ x: F8) -> F8 { x * sigmoid8(1.702 * x) }
    @inline(__always) static func grad(_ g: F8, _ x: F8) -> F8 {
        let s = sigmoid8(1.702 * x)
        return g * (s + 1.702 * x * s * (1 - s))
    }
}

/// Applies a unary kernel elementwise, in parallel.
func mapUnary<K: UnaryKernel>(_ k: K.Type, _ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let px = x.pointer, py = out.pointer
    parallelElements(x.count) { r in map8(px + r.lowerBound, py + r.lowerBound, r.count, K.f) }
    return out
}

func unary<K: UnaryKernel>(_ k: K.Type, _ x: Tensor) -> Tensor {
    mapUnary(k, x).recorded(K.name, [x]) { g, _ in
        let gx = Tensor(uninitialized: x.shape)
        let pg = g.pointer, px = x.pointer, pgx = gx.pointer
        parallelElements(x.count) { r in zip8(pg + r.lowerBound, px + r.lowerBound, pgx + r.lowerBound, r.count, K.grad) }
        return [gx]
    }
}

extension Tensor {
    public static prefix func - (x: Tensor) -> Tensor { unary(NegK.self, x) }
    public func exp() -> Tensor { unary(ExpK.self, self) }
    public func log() -> Tensor { unary(LogK.self, self) }
    public func sqrt() -> Tensor { unary(SqrtK.self, self) }
    /// √x with a zero gradient at x = 0 (for standard deviations that can be exactly 0).
    public func safeSqrt() -> Tensor { unary(SafeSqrtK.self, self) }
    public func abs() -> Tensor { unary(AbsK.self, self) }
    public func sigmoid() -> Tensor { unary(SigmoidK.self, self) }
    public func tanh() -> Tensor { unary(TanhK.self, self) }
    public func silu() -> Tensor { unary(SiLUK.self, self) }
    /// Exact GELU (erf), as torch.nn.functional.gelu.
    public func gelu() -> Tensor { unary(GELUK.self, self) }
    /// GELU's tanh approximation, as gelu(approximate="tanh").
    public func geluTanh() -> Tensor { unary(GELUTanhK.self, self) }
    /// CLIP's quick GELU, x·σ(1.702x).
    public func quickGelu() -> Tensor { unary(QuickGELUK.self, self) }

    /// Limits values to [lo, hi]; the gradient passes where the value was inside.
    public func clamp(min lo: Float = -.infinity, max hi: Float = .infinity) throws -> Tensor {
        try require(!(lo > hi), "clamp: min \(lo) is greater than max \(hi)")
        let x = self
        let out = Tensor(uninitialized: shape)
        let px = pointer, py = out.pointer
        let vlo = F8(repeating: lo), vhi = F8(repeating: hi)
        parallelElements(count) { r in
            map8(px + r.lowerBound, py + r.lowerBound, r.count) { clamp8($0, vlo, vhi) }
        }
        return out.recorded("clamp", [x]) { g, _ in
            let gx = Tensor(uninitialized: x.shape)
            let pg = g.pointer, pgx = gx.pointer
            parallelElements(x.count) { r in
                zip8(pg + r.lowerBound, px + r.lowerBound, pgx + r.lowerBound, r.count) { g, v in
                    var m = g
                    m.replace(with: 0, where: (v .< vlo) .| (v .> vhi))
                    return m
                }
            }
            return [gx]
        }
    }
}
