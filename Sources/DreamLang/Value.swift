import Foundation
import DreamTensor

/// Objects of later layers (models, distributions, plugin values) seen by the language: a type name,
/// members, and how they print.
public protocol DreamObject: AnyObject {
    var typeName: String { get }
    /// One-line summary (the REPL shows it for `_`).
    var summary: String { get }
    func member(_ name: String) throws -> Value?
    var memberNames: [String] { get }
}

/// An object `save` can write to a .safetensors file (its layer registers the reader: `Registry.register(objectFormat:read:)`).
public protocol SavableObject: DreamObject {
    func save(to path: String) throws
}

/// A named group of functions (`world.render`, plugin namespaces `nerf.distill`).
public final class Namespace {
    public let name: String
    public let doc: String
    public internal(set) var functions: [String: Builtin] = [:]
    public init(name: String, doc: String) { self.name = name; self.doc = doc }
}

/// Values of the language.
public indirect enum Value {
    case none
    case number(Double)
    case string(String)
    case bool(Bool)
    case list([Value])
    case dict(OrderedDict)
    case tensor(Tensor)
    case range(Int, Int, Int)            // start, end, step: lazy, for loops over range(n)
    case function(Builtin)
    case namespace(Namespace)
    case object(DreamObject)

    public var typeName: String {
        switch self {
        case .none: return "nothing"
        case .number: return "number"
        case .string: return "string"
        case .bool: return "bool"
        case .list: return "list"
        case .dict: return "dictionary"
        case .tensor: return "tensor"
        case .range: return "range"
        case .function: return "function"
        case .namespace: return "namespace"
        case .object(let o): return o.typeName
        }
    }

    /// The article form used in messages: "a tensor", "an object".
    public var aTypeName: String { article(typeName) }
}

func article(_ s: String) -> String { ("aeiou".contains(s.first ?? "x") ? "an " : "a ") + s }

/// A dictionary that keeps insertion order (keys are strings), as users expect when printing.
public struct OrderedDict {
    public private(set) var keys: [String] = []
    public private(set) var storage: [String: Value] = [:]
    public init() {}
    public init(_ pairs: [(String, Value)]) { for (k, v) in pairs { self[k] = v } }

    public subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage[key] == nil { keys.append(key) }
                storage[key] = newValue
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
    public var count: Int { keys.count }
    public var pairs: [(String, Value)] { keys.map { ($0, storage[$0]!) } }
}

// MARK: Printing

/// Numbers print as integers when they are whole, otherwise with up to 6 significant digits.
public func formatNumber(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v > 0 ? "inf" : "-inf" }
    if v == v.rounded(), Swift.abs(v) < 1e15 { return String(Int64(v)) }
    var s = String(format: "%.6g", v)
    if s.contains("e") { s = s.replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+", with: "e") }
    return s
}

/// Small tensors print in full (this many elements at most); larger ones as a summary only.
public let fullPrintLimit = 64

/// "tensor [2, 3] float32  min … max … mean … std …", then the values when small, NumPy style.
public func describeTensor(_ t: Tensor) -> String {
    if t.rank == 0 { return "tensor(\(formatNumber(Double(t.pointer[0]))))" }
    var s = "tensor \(shapeString(t.shape)) float32"
    if t.count > 0 {
        let v = t.scalars
        var mn = Float.infinity, mx = -Float.infinity, sum = 0.0
        for x in v { mn = Swift.min(mn, x); mx = Swift.max(mx, x); sum += Double(x) }
        let mean = sum / Double(v.count)
        var ss = 0.0
        for x in v { ss += (Double(x) - mean) * (Double(x) - mean) }
        let std = v.count > 1 ? (ss / Double(v.count - 1)).squareRoot() : 0
        s += "  min \(formatNumber(Double(mn))) max \(formatNumber(Double(mx))) mean \(formatNumber(mean)) std \(formatNumber(std))"
    }
    if t.count <= fullPrintLimit && t.count > 0 { s += "\n" + tensorValues(t) }
    return s
}

/// NumPy-style nested brackets with aligned columns.
public func tensorValues(_ t: Tensor) -> String {
    let v = t.scalars
    if t.rank == 0 { return formatNumber(Double(v[0])) }
    let allWhole = v.allSatisfy { $0 == $0.rounded() && Swift.abs($0) < 1e7 }
    let cells = v.map { x -> String in
        if allWhole { return formatNumber(Double(x)) }
        if x.isNaN || x.isInfinite { return formatNumber(Double(x)) }
        return String(format: "%.4f", x)
    }
    let width = cells.map(\.count).max() ?? 1
    let padded = cells.map { String(repeating: " ", count: width - $0.count) + $0 }
    func render(_ dim: Int, _ offset: Int, _ indent: Int) -> String {
        let n = t.shape[dim]
        if dim == t.rank - 1 {
            return "[" + (0..<n).map { padded[offset + $0] }.joined(separator: ", ") + "]"
        }
        let stride = t.shape[(dim + 1)...].reduce(1, *)
        let sep = "," + String(repeating: "\n", count: t.rank - dim - 1) + String(repeating: " ", count: indent + 1)
        return "[" + (0..<n).map { render(dim + 1, offset + $0 * stride, indent + 1) }.joined(separator: sep) + "]"
    }
    return render(0, 0, 0)
}

extension Value {
    /// How print() and the REPL show a value.
    public var display: String {
        switch self {
        case .none: return "nothing"
        case .number(let v): return formatNumber(v)
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .tensor(let t): return describeTensor(t)
        default: return literal
        }
    }

    /// Source-like form, used inside lists and dictionaries (strings quoted, tensors summarised).
    public var literal: String {
        switch self {
        case .string(let s): return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
        case .list(let xs): return "[" + xs.map(\.literal).joined(separator: ", ") + "]"
        case .dict(let d): return d.count == 0 ? "[:]" : "[" + d.pairs.map { "\"\($0.0)\": \($0.1.literal)" }.joined(separator: ", ") + "]"
        case .tensor(let t): return t.count <= 8 && t.rank <= 1 ? "tensor(\(tensorValues(t)))" : "tensor \(shapeString(t.shape))"
        case .range(let a, let b, let s): return s == 1 ? "range(\(a), \(b))" : "range(\(a), \(b), \(s))"
        case .function(let f): return "function \(f.qualifiedName)"
        case .namespace(let n): return "namespace \(n.name)"
        case .object(let o): return o.summary
        default: return display
        }
    }
}
