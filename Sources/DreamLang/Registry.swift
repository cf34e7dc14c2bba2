import Foundation
import DreamTensor
import DreamIO

/// What an argument must be. Conversions users expect happen here: numbers and nested lists become
/// tensors where a tensor is wanted, a single integer is a one-dimensional shape.
public indirect enum ParamType {
    case any, number, int, bool, string, tensor, list, dict, shape, ints, tensors
    case optional(ParamType)
    case oneOf([ParamType])

    public var name: String {
        switch self {
        case .any: return "any value"
        case .number: return "a number"
        case .int: return "an integer"
        case .bool: return "true or false"
        case .string: return "a string"
        case .tensor: return "a tensor"
        case .list: return "a list"
        case .dict: return "a dictionary"
        case .shape: return "a shape (list of integers ≥ 0)"
        case .ints: return "a list of integers"
        case .tensors: return "a list of tensors"
        case .optional(let t): return t.name
        case .oneOf(let ts): return ts.map(\.name).joined(separator: " or ")
        }
    }
}

public struct Param {
    public let label: String?          // nil: positional
    public let name: String
    public let type: ParamType
    public let defaultValue: Value?    // nil and not optional: required
    public let doc: String

    public static func positional(_ name: String, _ type: ParamType, default d: Value? = nil, _ doc: String = "") -> Param {
        Param(label: nil, name: name, type: type, defaultValue: d, doc: doc)
    }
    public static func labeled(_ name: String, _ type: ParamType, default d: Value? = nil, _ doc: String = "") -> Param {
        Param(label: name, name: name, type: type, defaultValue: d, doc: doc)
    }

    var isOptional: Bool { if case .optional = type { return true }; return false }
    var isRequired: Bool { defaultValue == nil && !isOptional }
}

/// An error about a call's arguments; the interpreter points it at the argument named here.
public struct ArgumentError: Error {
    public let message: String
    public let argument: String?
    public init(_ message: String, argument: String? = nil) { self.message = message; self.argument = argument }
}

/// The checked arguments of one call.
public struct Args {
    public let function: Builtin
    var values: [String: Value]
    /// Extra positional values of variadic functions (print).
    public let rest: [Value]

    public subscript(name: String) -> Value { values[name] ?? .none }
    public func has(_ name: String) -> Bool { if case .none = self[name] { return false }; return true }

    public func tensor(_ n: String) throws -> Tensor { guard case .tensor(let t) = self[n] else { throw missing(n) }; return t }
    public func optionalTensor(_ n: String) -> Tensor? { if case .tensor(let t) = self[n] { return t }; return nil }
    public func number(_ n: String) throws -> Double { guard case .number(let v) = self[n] else { throw missing(n) }; return v }
    public func optionalNumber(_ n: String) -> Double? { if case .number(let v) = self[n] { return v }; return nil }
    public func int(_ n: String) throws -> Int { Int(try number(n)) }
    public func optionalInt(_ n: String) -> Int? { optionalNumber(n).map { Int($0) } }
    public func string(_ n: String) throws -> String { guard case .string(let s) = self[n] else { throw missing(n) }; return s }
    public func optionalString(_ n: String) -> String? { if case .string(let s) = self[n] { return s }; return nil }
    public func bool(_ n: String) throws -> Bool { guard case .bool(let b) = self[n] else { throw missing(n) }; return b }
    public func list(_ n: String) throws -> [Value] { guard case .list(let l) = self[n] else { throw missing(n) }; return l }
    public func ints(_ n: String) throws -> [Int] { try list(n).map { if case .number(let v) = $0 { return Int(v) }; throw missing(n) } }
    public func tensors(_ n: String) throws -> [Tensor] {
        try list(n).map { if case .tensor(let t) = $0 { return t }; throw missing(n) }
    }
    func missing(_ n: String) -> ArgumentError { ArgumentError("\(function.qualifiedName): argument '\(n)' is missing", argument: n) }
}

/// A built-in function: its signature drives argument checking, `:help`, completion and messages.
public final class Builtin {
    public let name: String
    public internal(set) var namespace: String?
    public let params: [Param]
    public let variadic: Bool
    public let doc: String
    public let example: String
    public let run: (Args, Interpreter) throws -> Value

    public init(_ name: String, _ params: [Param], variadic: Bool = false, doc: String, example: String,
                run: @escaping (Args, Interpreter) throws -> Value) {
        self.name = name; self.params = params; self.variadic = variadic; self.doc = doc; self.example = example; self.run = run
    }

    public var qualifiedName: String { namespace.map { "\($0).\(name)" } ?? name }

    public var signature: String {
        var parts = params.map { p -> String in
            guard let label = p.label else { return p.defaultValue.map { "\(p.name) = \($0.literal)" } ?? p.name }
            return p.defaultValue.map { "\(label): \($0.literal)" } ?? "\(label):"
        }
        if variadic { parts.append("...") }
        return "\(qualifiedName)(\(parts.joined(separator: ", ")))"
    }

    public var labels: [String] { params.compactMap(\.label) }

    /// Matches positional and labelled arguments to parameters, checks and converts their types.
    func bind(_ positional: [Value], _ labeled: [(String, Value)]) throws -> Args {
        var values: [String: Value] = [:]
        let positionalParams = params.filter { $0.label == nil }
        var rest: [Value] = []
        for (i, v) in positional.enumerated() {
            if i < positionalParams.count {
                values[positionalParams[i].name] = v
            } else if variadic {
                rest.append(v)
            } else {
                throw ArgumentError("\(qualifiedName) takes \(positionalParams.count) positional argument\(positionalParams.count == 1 ? "" : "s"), got \(positional.count) (signature: \(signature))")
            }
        }
        for (label, v) in labeled {
            guard let p = params.first(where: { $0.label == label }) else {
                let hint = closest(label, among: labels).map { "; did you mean '\($0):'?" } ?? (labels.isEmpty ? "; it takes no labelled arguments" : "")
                throw ArgumentError("\(qualifiedName) has no argument '\(label):'\(hint)", argument: label)
            }
            values[p.name] = v
        }
        for p in params {
            if let v = values[p.name] {
                values[p.name] = try convert(v, to: p.type, param: p)
            } else if let d = p.defaultValue {
                values[p.name] = d
            } else if !p.isOptional {
                throw ArgumentError("\(qualifiedName) needs argument \(p.label.map { "'\($0):'" } ?? "'\(p.name)'") (\(p.type.name)); signature: \(signature)")
            }
        }
        return Args(function: self, values: values, rest: rest)
    }

    func convert(_ v: Value, to type: ParamType, param p: Param) throws -> Value {
        if let c = coerce(v, to: type) { return c }
        let what = p.label.map { "'\($0):'" } ?? "'\(p.name)'"
        throw ArgumentError("\(qualifiedName): argument \(what) must be \(type.name), got \(describeForError(v))", argument: p.name)
    }
}

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

/// The candidate nearest to `name` by edit distance, when near enough to be a likely typo.
public func closest(_ name: String, among candidates: [String]) -> String? {
    // Edit distance with adjacent transpositions (optimal string alignment): "mena" is one step from "mean".
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
    let a = Array(name.lowercased())
    var best: (name: String, d: Int)? = nil
    for c in candidates.sorted() {
        let d: Int = distance(a, Array(c.lowercased()))
        if best == nil || d < best!.d { best = (c, d) }
    }
    guard let best else { return nil }
    return best.d <= max(2, name.count / 3) ? best.name : nil
}

/// All built-in functions and namespaces. Each layer registers its own (tensors and files here; models,
/// distributions and the world with their issues; plugins at load time).
public final class Registry {
    public private(set) var functions: [String: Builtin] = [:]
    public private(set) var namespaces: [String: Namespace] = [:]
    public private(set) var topics: [(String, [String])] = []   // help sections, in order
    /// Meta-commands (`:help`, `:plugins`, …) in the order `:help` lists them; `:quit` is always the last.
    public private(set) var metaCommands: [MetaCommand] = []
    /// Readers of the safetensors files later layers write, by their metadata "format" (`load` calls them).
    public private(set) var objectReaders: [String: (SafeTensorsFile) throws -> DreamObject] = [:]

    public init() {}

    public func register(_ f: Builtin, topic: String) {
        functions[f.name] = f
        if let i = topics.firstIndex(where: { $0.0 == topic }) { topics[i].1.append(f.name) } else { topics.append((topic, [f.name])) }
    }

    public func register(_ f: Builtin, in ns: String, doc: String = "") {
        let n = namespaces[ns] ?? Namespace(name: ns, doc: doc)
        namespaces[ns] = n
        f.namespace = ns
        n.functions[f.name] = f
    }

    /// A namespace with no functions yet (a plugin that adds only samplers still shows in :help).
    public func register(namespace ns: String, doc: String) {
        if namespaces[ns] == nil { namespaces[ns] = Namespace(name: ns, doc: doc) }
    }

    public func register(meta m: MetaCommand) { metaCommands.append(m) }

    /// `load` of a .safetensors file whose metadata "format" is `format` returns `read`'s object.
    public func register(objectFormat format: String, read: @escaping (SafeTensorsFile) throws -> DreamObject) {
        objectReaders[format] = read
    }

    /// A function by plain or dotted name.
    public func lookup(_ name: String) -> Builtin? {
        if let f = functions[name] { return f }
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2 { return namespaces[parts[0]]?.functions[parts[1]] }
        return nil
    }

    public var allNames: [String] {
        functions.keys.sorted() + namespaces.values.flatMap { ns in ns.functions.keys.map { "\(ns.name).\($0)" } }.sorted()
    }
}
