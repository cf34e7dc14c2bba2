import Foundation
import DreamTensor
import DreamIO

/// "a string (\"abc\")", "a tensor [2, 3]": what a wrong argument was.
public func describeForError(_ v: Value) -> String {
    switch v {
    case .tensor(let t): return "a tensor \(shapeString(t.shape))"
    case .number(let x): return "the number \(formatNumber(x))"
    case .string(let s): return "the string \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
    case .list(let l): return "a list of \(l.count)"
    default: return v.aTypeName
    }
}

/// Converts `v` to `type` when it is one or can stand for one; nil when it cannot.
public func coerce(_ v: Value, to type: ParamType) -> Value? {
    switch (type, v) {
    case (.any, _): return v
    case (.optional, .none): return v
    case (.optional(let t), _): return coerce(v, to: t)
    case (.oneOf(let ts), _): return ts.lazy.compactMap { coerce(v, to: $0) }.first
    case (.number, .number): return v
    case (.int, .number(let x)): return isWhole(x) ? v : nil
    case (.bool, .bool), (.string, .string), (.list, .list), (.dict, .dict), (.tensor, .tensor): return v
    case (.list, .range(let a, let b, let s)):
        return (b - a) / s > 1 << 24 ? nil : .list(stride(from: a, to: b, by: s).map { .number(Double($0)) })
    case (.tensor, .number(let x)): return .tensor(Tensor(scalar: Float(x)))
    case (.tensor, .list): return (try? tensorFromNested(v)).map { .tensor($0) }
    case (.shape, .number(let x)): return x >= 0 && isWhole(x) ? .list([v]) : nil
    case (.shape, .list(let xs)):
        return xs.allSatisfy({ if case .number(let x) = $0 { return x >= 0 && isWhole(x) }; return false }) ? v : nil
    case (.shape, .tensor(let t)) where t.rank == 1:   // x.shape round-trips
        return .list(t.scalars.map { .number(Double($0)) })
    case (.ints, .number(let x)): return isWhole(x) ? .list([v]) : nil
    case (.ints, .list(let xs)):
        return xs.allSatisfy({ if case .number(let x) = $0 { return isWhole(x) }; return false }) ? v : nil
    case (.tensors, .list(let xs)):
        let ts = xs.compactMap { coerce($0, to: .tensor) }
        return ts.count == xs.count ? .list(ts) : nil
    default: return nil
    }
}

/// A whole number small enough to be an Int (sizes, axes, indices).
func isWhole(_ x: Double) -> Bool { x == x.rounded() && Swift.abs(x) < 1e15 }

/// A nested list of numbers (rectangular) as a tensor.
public func tensorFromNested(_ v: Value) throws -> Tensor {
    var shape: [Int] = []
    var probe = v
    while case .list(let xs) = probe {
        shape.append(xs.count)
        guard let first = xs.first else { break }
        probe = first
    }
    var flat: [Float] = []
    func walk(_ v: Value, _ depth: Int) throws {
        if depth == shape.count {
            switch v {
            case .number(let x): flat.append(Float(x))
            case .bool(let b): flat.append(b ? 1 : 0)
            case .tensor(let t) where t.count == 1: flat.append(t.pointer[0])
            default: throw ArgumentError("tensor(): expected numbers in the nested list, found \(describeForError(v))")
            }
            return
        }
        guard case .list(let xs) = v, xs.count == shape[depth] else {
            throw ArgumentError("tensor(): the nested list is not rectangular (expected \(shape[depth]) items at depth \(depth + 1))")
        }
        for x in xs { try walk(x, depth + 1) }
    }
    try walk(v, 0)
    return try Tensor(flat, shape: shape)
}
