import Foundation
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

extension Registry {
    func registerWorld() {
        let ns = "world", doc = "the built-in procedural world (WORLD.md)"
        var params: [Param] = [.labeled("n", .int, default: .number(1)), .labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed")]
        params += Attribute.allCases.map { Param.labeled($0.rawValue, .optional(.oneOf([.string, .list])), "a value or a list of allowed values (\($0.values.joined(separator: ", ")))") }
        params.append(.labeled("concept", .optional(.dict), "constraints, as world.concept(NAME) returns"))
        func constraints(_ a: Args) throws -> Constraints {
            var c: Constraints = [:]
            if case .dict = a["concept"] { c = try parseConstraints(a["concept"], argument: "concept") }
            for attr in Attribute.allCases {
                switch a[attr.rawValue] {
                case .string(let s): c[attr] = [s]
                case .list(let l): c[attr] = try l.map { if case .string(let s) = $0 { return s }; throw ArgumentError("\(attr.rawValue): values are strings", argument: attr.rawValue) }
                default: break
                }
            }
            do { try World.validate(c) } catch let e as TensorError { throw ArgumentError(e.message) }
            return c
        }
        func scenes(_ a: Args, _ ip: Interpreter) throws -> [Scene] {
            let n = try a.int("n")
            guard n >= 0 else { throw ArgumentError("n must be ≥ 0", argument: "n") }
            try ip.checkSize([n, 3, 64, 64])
            return try World.scenes(n: n, seed: try ip.seed(a), constraints: constraints(a))
        }
        register(Builtin("scenes", params, doc: "Scene dictionaries drawn from the world (attributes constrained as given, the rest free).",
                         example: "world.scenes(n: 4, seed: 0, shape: \"cone\")") { a, ip in
            .list(try scenes(a, ip).map(sceneValue))
        }, in: ns, doc: doc)
        register(Builtin("render", [.positional("scenes", .optional(.list))] + params + [.labeled("resolution", .int, default: .number(64), "image height and width in pixels")],
                         doc: "Renders scenes (or n fresh ones, with the same arguments as world.scenes) as an image batch [N, 3, resolution, resolution].",
                         example: "world.render(n: 8, seed: 0, concept: world.concept(\"cones\"))") { a, ip in
            let list: [Scene]
            if case .list(let l) = a["scenes"] { list = try l.map(scene) } else { list = try scenes(a, ip) }
            let size = try a.int("resolution")
            try ip.checkSize([list.count, 3, size, size])
            return .tensor(try Renderer.render(list, size: size))
        }, in: ns, doc: doc)
        register(Builtin("caption", [.positional("scene", .dict)], doc: "The full caption of a scene.",
                         example: "world.caption(world.scenes(seed: 1)[0])") { a, _ in
            .string(try scene(from: a["scene"]).caption)
        }, in: ns, doc: doc)
        register(Builtin("concept", [.positional("name", .string)], doc: "The constraints of a named reference concept.",
                         example: "world.concept(\"cones\")") { a, _ in
            let name = try a.string("name")
            guard let c = World.concept(name) else {
                let hint = closest(name, among: World.concepts.map(\.0)).map { "; did you mean \"\($0)\"?" } ?? ""
                throw ArgumentError("no concept named \"\(name)\"\(hint) (concepts: \(World.concepts.map(\.0).joined(separator: ", ")))", argument: "name")
            }
            return constraintsValue(c)
        }, in: ns, doc: doc)
        register(Builtin("concepts", [], doc: "Names of the reference concepts.", example: "world.concepts()") { _, _ in
            .list(World.concepts.map { .string($0.0) })
        }, in: ns, doc: doc)
    }
}
