import Foundation
import DreamTensor
import DreamIO

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
        let given = Set(values.keys)
        for p in params {
            if let v = values[p.name] {
                values[p.name] = try convert(v, to: p.type, param: p)
            } else if let d = p.defaultValue {
                values[p.name] = d
            } else if !p.isOptional {
                throw ArgumentError("\(qualifiedName) needs argument \(p.label.map { "'\($0):'" } ?? "'\(p.name)'") (\(p.type.name)); signature: \(signature)")
            }
        }
        var args = Args(function: self, values: values, rest: rest)
        args.given = given
        return args
    }

    func convert(_ v: Value, to type: ParamType, param p: Param) throws -> Value {
        if let c = coerce(v, to: type) { return c }
        let what = p.label.map { "'\($0):'" } ?? "'\(p.name)'"
        throw ArgumentError("\(qualifiedName): argument \(what) must be \(type.name), got \(describeForError(v))", argument: p.name)
    }
}
