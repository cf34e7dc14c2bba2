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
    /// The labels (and positional names) the caller passed, defaults excluded.
    public var given: Set<String> = []
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
