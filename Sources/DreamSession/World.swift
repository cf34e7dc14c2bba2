import Foundation
import DreamLang
import DreamTensor
import DreamWorld

/// world.* built-ins: scenes as dictionaries (attributes by name plus the continuous parameters).
func sceneValue(_ s: Scene) -> Value {
    var d = OrderedDict()
    for a in Attribute.allCases { d[a.rawValue] = .string(s[a]) }
    d["azimuth"] = .number(s.azimuth); d["elevation"] = .number(s.elevation)
    d["light_x"] = .number(s.lightJitter.0); d["light_y"] = .number(s.lightJitter.1)
    d["offset_x"] = .number(s.offset.0); d["offset_y"] = .number(s.offset.1); d["hue_jitter"] = .number(s.hueJitter)
    return .dict(d)
}

func scene(from v: Value) throws -> Scene {
    guard case .dict(let d) = v else { throw ArgumentError("expected a scene dictionary (from world.scenes), got \(describeForError(v))") }
    var attrs: [Attribute: String] = [:]
    for a in Attribute.allCases {
        guard case .string(let s)? = d[a.rawValue], a.values.contains(s) else {
            throw ArgumentError("the scene's \"\(a.rawValue)\" must be one of \(a.values.joined(separator: ", "))")
        }
        attrs[a] = s
    }
    func num(_ k: String) -> Double { if case .number(let x)? = d[k] { return x }; return 0 }
    return Scene(attributes: attrs, azimuth: num("azimuth"), elevation: num("elevation"), lightJitter: (num("light_x"), num("light_y")),
                 offset: (num("offset_x"), num("offset_y")), hueJitter: num("hue_jitter"))
}

func constraintsValue(_ c: Constraints) -> Value {
    .dict(OrderedDict(Attribute.allCases.compactMap { a in c[a].map { (a.rawValue, .list($0.map { .string($0) })) } }))
}

/// A concept as world.concept returns it: a constraints dictionary for one mode, a list of them for a union.
func conceptValue(_ c: Concept) -> Value {
    c.modes.count == 1 ? constraintsValue(c.modes[0]) : .list(c.modes.map(constraintsValue))
}

/// The concept named, or an error naming the closest concept.
func namedConcept(_ name: String, argument: String, caller: String = "") throws -> (concept: Concept, references: Int) {
    guard let found = World.concepts.first(where: { $0.name == name }) else {
        let names = World.concepts.map(\.name)
        let hint = closest(name, among: names).map { "; did you mean \"\($0)\"?" } ?? ""
        throw ArgumentError("\(caller)no concept named \"\(name)\"\(hint) (concepts: \(names.joined(separator: ", ")))", argument: argument)
    }
    return (found.concept, found.references)
}

/// A concept from a name, a constraints dictionary or a list of them (a union of modes), with the size of
/// its reference set (a named concept's; else 8 for one mode, 16 for more).
func parseConcept(_ v: Value, argument: String, caller: String = "") throws -> (concept: Concept, references: Int) {
    if case .string(let name) = v { return try namedConcept(name, argument: argument, caller: caller) }
    let modes: [Constraints]
    if case .list(let l) = v {
        guard !l.isEmpty else { throw ArgumentError("\(argument): a union of modes needs at least one constraints dictionary, got []", argument: argument) }
        modes = try l.enumerated().map { i, m in
            do { return try parseConstraints(m, argument: argument) } catch let e as ArgumentError {
                throw ArgumentError(e.message.replacingOccurrences(of: "\(argument): ", with: "\(argument): mode \(i): "), argument: argument)
            }
        }
    } else {
        modes = [try parseConstraints(v, argument: argument)]
    }
    do { return (try Concept(modes: modes), modes.count > 1 ? 16 : 8) }
    catch let e as TensorError { throw ArgumentError("\(argument): \(e.message)", argument: argument) }
}

/// Constraints from a dictionary (attribute → value or list of values), as world.concept returns.
func parseConstraints(_ v: Value, argument: String) throws -> Constraints {
    guard case .dict(let d) = v else { throw ArgumentError("\(argument): expected a constraints dictionary, got \(describeForError(v))", argument: argument) }
    var c: Constraints = [:]
    for (k, v) in d.pairs {
        guard let attr = Attribute(rawValue: k) else {
            throw ArgumentError("\(argument): unknown attribute '\(k)' (attributes: \(Attribute.allCases.map(\.rawValue).joined(separator: ", ")))", argument: argument)
        }
        switch v {
        case .string(let s): c[attr] = [s]
        case .list(let l): c[attr] = try l.map { if case .string(let s) = $0 { return s }; throw ArgumentError("\(argument): \(k) values are strings", argument: argument) }
        default: throw ArgumentError("\(argument): \(k) must be a value or a list", argument: argument)
        }
    }
    do { try World.validate(c) } catch let e as TensorError { throw ArgumentError("\(argument): \(e.message)", argument: argument) }
    return c
}

extension Session {
    func registerWorld() {
        let r = registry
        let ns = "world", doc = "the built-in procedural world (docs/world.md)"
        var params: [Param] = [.labeled("n", .int, default: .number(1)), .labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed")]
        params += Attribute.allCases.map { Param.labeled($0.rawValue, .optional(.oneOf([.string, .list])), "a value or a list of allowed values (\($0.values.joined(separator: ", ")))") }
        params.append(.labeled("concept", .optional(.oneOf([.string, .dict, .list])), "a concept: its name, constraints as world.concept returns them, or a list of them (a union of modes; scene i takes mode i mod their number)"))
        /// The concept, with the attribute arguments added to every mode.
        func constraints(_ a: Args) throws -> Concept {
            var modes: [Constraints] = [[:]]
            if a.has("concept") { modes = try parseConcept(a["concept"], argument: "concept").concept.modes }
            for attr in Attribute.allCases {
                let values: [String]
                switch a[attr.rawValue] {
                case .string(let s): values = [s]
                case .list(let l): values = try l.map { if case .string(let s) = $0 { return s }; throw ArgumentError("\(attr.rawValue): values are strings", argument: attr.rawValue) }
                default: continue
                }
                for i in modes.indices { modes[i][attr] = values }
            }
            do { return try Concept(modes: modes) } catch let e as TensorError { throw ArgumentError(e.message) }
        }
        func scenes(_ a: Args, _ ip: Interpreter) throws -> [Scene] {
            let n = try a.int("n")
            guard n >= 0 else { throw ArgumentError("n must be ≥ 0", argument: "n") }
            try ip.checkSize([n, 3, 64, 64])
            return try World.scenes(n: n, seed: try ip.seed(a), concept: constraints(a))
        }
        r.register(Builtin("scenes", params, doc: "Scene dictionaries drawn from the world (attributes constrained as given, the rest free).",
                         example: "world.scenes(n: 4, seed: 0, shape: \"cone\")") { a, ip in
            .list(try scenes(a, ip).map(sceneValue))
        }, in: ns, doc: doc)
        r.register(Builtin("render", [.positional("scenes", .optional(.list))] + params + [.labeled("resolution", .int, default: .number(64), "image height and width in pixels")],
                         doc: "Renders scenes (or n fresh ones, with the same arguments as world.scenes) as an image batch [N, 3, resolution, resolution].",
                         example: "world.render(n: 8, seed: 0, concept: world.concept(\"cones\"))") { a, ip in
            let list: [Scene]
            if case .list(let l) = a["scenes"] { list = try l.map(scene) } else { list = try scenes(a, ip) }
            let size = try a.int("resolution")
            try ip.checkSize([list.count, 3, size, size])
            return .tensor(try Renderer.render(list, size: size))
        }, in: ns, doc: doc)
        r.register(Builtin("caption", [.positional("scene", .dict)], doc: "The full caption of a scene.",
                         example: "world.caption(world.scenes(seed: 1)[0])") { a, _ in
            .string(try scene(from: a["scene"]).caption)
        }, in: ns, doc: doc)
        r.register(Builtin("concept", [.positional("name", .string)],
                         doc: "The constraints of a named reference concept: a dictionary (attribute → allowed values), or a list of them for a concept with modes.",
                         example: "world.concept(\"toy-box\")") { a, _ in
            conceptValue(try namedConcept(try a.string("name"), argument: "name").concept)
        }, in: ns, doc: doc)
        r.register(Builtin("references", [.positional("name", .string), .labeled("resolution", .int, default: .number(64), "image height and width in pixels")],
                         doc: "A named concept's reference images: world.render(n: 8, or 16 for the concepts with modes and sea-and-sand, seed: 0, concept: name).",
                         example: "let refs = world.references(\"toy-box\")") { a, ip in
            let (c, count) = try namedConcept(try a.string("name"), argument: "name")
            let size = try a.int("resolution")
            try ip.checkSize([count, 3, size, size])
            return .tensor(try Renderer.render(World.scenes(n: count, seed: 0, concept: c), size: size))
        }, in: ns, doc: doc)
        r.register(Builtin("concepts", [], doc: "Names of the reference concepts.", example: "world.concepts()") { _, _ in
            .list(World.concepts.map { .string($0.name) })
        }, in: ns, doc: doc)
    }
}
