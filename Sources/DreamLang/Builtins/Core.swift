import Foundation
import DreamTensor

extension Registry {
    func registerCore() {
        register(Builtin("print", [], variadic: true, doc: "Prints its arguments separated by spaces.",
                         example: "print(x.shape, mean(x))") { a, ip in
            ip.write(a.rest.map(\.display).joined(separator: " ") + "\n")
            return .none
        }, topic: "core")
        register(Builtin("range", [.positional("start_or_end", .int), .positional("end", .optional(.int)), .positional("step", .int, default: .number(1))],
                         doc: "Integers start..<end (range(n) is 0..<n), for loops.", example: "for i in range(3) { print(i) }") { a, _ in
            let first = try a.int("start_or_end"), step = try a.int("step")
            guard step > 0 else { throw ArgumentError("range: step must be positive, got \(step)", argument: "step") }
            if let end = a.optionalInt("end") { return .range(first, max(first, end), step) }
            return .range(0, max(0, first), step)
        }, topic: "core")
        register(Builtin("len", [.positional("x", .any)], doc: "Number of items of a list, dictionary, string or range, or a tensor's first dimension.",
                         example: "len([1, 2, 3])") { a, _ in
            switch a["x"] {
            case .list(let l): return .number(Double(l.count))
            case .dict(let d): return .number(Double(d.count))
            case .string(let s): return .number(Double(s.count))
            case .range(let lo, let hi, let s): return .number(Double((hi - lo + s - 1) / s))
            case .tensor(let t) where t.rank > 0: return .number(Double(t.shape[0]))
            case let v: throw ArgumentError("len: \(describeForError(v)) has no length", argument: "x")
            }
        }, topic: "core")
        register(Builtin("keys", [.positional("d", .dict)], doc: "A dictionary's keys, in the order they were added.",
                         example: "for k in keys(stats(D)) { print(k) }") { a, _ in
            guard case .dict(let d) = a["d"] else { throw ArgumentError("keys: expected a dictionary", argument: "d") }
            return .list(d.keys.map { .string($0) })
        }, topic: "core")
        register(Builtin("contains", [.positional("collection", .any), .positional("item", .any)],
                         doc: "Whether a list holds the item, a dictionary has the key, or a string contains the text.",
                         example: "if contains(result, \"ti\") { print(result[\"ti\"]) }") { a, ip in
            switch (a["collection"], a["item"]) {
            case (.dict(let d), .string(let k)): return .bool(d[k] != nil)
            case (.string(let s), .string(let t)): return .bool(t.isEmpty || s.contains(t))
            case (.list(let xs), let x): return .bool(xs.contains { ip.equal($0, x) == true })
            case (.range(let lo, let hi, let st), .number(let x)):
                return .bool(x == x.rounded() && x >= Double(lo) && x < Double(hi) && (Int(x) - lo) % st == 0)
            case let (c, x): throw ArgumentError("contains: cannot look for \(describeForError(x)) in \(describeForError(c)) (a list, a dictionary by key, a string by text)", argument: "collection")
            }
        }, topic: "core")
        register(Builtin("str", [.positional("x", .any), .labeled("digits", .optional(.int), "a number with this many decimals")],
                         doc: "The value as text, as print shows it (a number with a fixed number of decimals when digits: is given).",
                         example: "\"loss \" + str(0.12345, digits: 3)") { a, _ in
            if let d = a.optionalInt("digits") {
                guard case .number(let x) = a["x"] else { throw ArgumentError("str: digits: applies to numbers, got \(describeForError(a["x"]))", argument: "x") }
                guard (0...12).contains(d) else { throw ArgumentError("str: digits must be 0…12, got \(d)", argument: "digits") }
                return .string(String(format: "%.\(d)f", x))
            }
            return .string(a["x"].display)
        }, topic: "core")
        register(Builtin("float", [.positional("x", .any)], doc: "The number held by a one-element tensor, or written in a string (such as a script argument).",
                         example: "float(mean(x))") { a, _ in
            .number(try numberArgument(a["x"], "float"))
        }, topic: "core")
        register(Builtin("int", [.positional("x", .any)], doc: "A number rounded toward zero (as Python's int): of a number, a one-element tensor or a string.",
                         example: "int(n / 8)") { a, _ in
            let x = try numberArgument(a["x"], "int")
            guard x.isFinite else { throw ArgumentError("int: \(formatNumber(x)) has no integer value", argument: "x") }
            return .number(x.rounded(.towardZero))
        }, topic: "core")
        register(Builtin("type", [.positional("x", .any)], doc: "The name of a value's type.", example: "type(x)") { a, _ in
            .string(a["x"].typeName)
        }, topic: "core")
        register(Builtin("exit", [.positional("code", .int, default: .number(0))],
                         doc: "Ends the script (or the session) now with this exit status (0 success, 1–125 failure).",
                         example: "if len(args) == 0 { exit(2) }") { a, _ in
            let code = try a.int("code")
            guard (0...125).contains(code) else { throw ArgumentError("exit: the status must be 0…125, got \(code)", argument: "code") }
            throw QuitRequest(status: Int32(code))
        }, topic: "core")
        register(Builtin("error", [.positional("message", .string)],
                         doc: "Stops with this message, located at the call (a script exits with status 1).",
                         example: "if len(args) < 2 { error(\"usage: split.dream IN OUT\") }") { a, _ in
            throw ArgumentError(try a.string("message"))
        }, topic: "core")
        register(Builtin("assert", [.positional("condition", .any), .positional("message", .string, default: .string(""))],
                         doc: "Stops with \"assertion failed: MESSAGE\" unless the condition holds (true, a non-zero number or one-element tensor).",
                         example: "assert(x.shape == [2, 3], \"x must be 2×3\")") { a, ip in
            let holds: Bool
            switch a["condition"] {
            case .bool(let b): holds = b
            case .number(let x): holds = x != 0
            case .tensor(let t) where t.count == 1: holds = try t.item != 0
            case let v: throw ArgumentError("assert: the condition must be true or false, got \(describeForError(v))", argument: "condition")
            }
            if !holds {
                let m = try a.string("message")
                throw ArgumentError("assertion failed" + (m.isEmpty ? "" : ": " + m))
            }
            return .none
        }, topic: "core")
    }
}

/// The number in a number, a one-element tensor or a string (`float` and `int`).
private func numberArgument(_ v: Value, _ function: String) throws -> Double {
    switch v {
    case .tensor(let t): return Double(try t.item)
    case .number(let x): return x
    case .string(let s):
        guard let x = Double(s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")) else {
            throw ArgumentError("\(function): \"\(s)\" is not a number", argument: "x")
        }
        return x
    case let v: throw ArgumentError("\(function): expected a one-element tensor, a number or a string, got \(describeForError(v))", argument: "x")
    }
}
