import Foundation
import DreamTensor
import DreamIO

/// All built-in functions, namespaces, meta-commands and object formats: the language registers its own
/// (`Registry.standard()`), a session the domain's, plugins theirs at load time.
public final class Registry {
    public private(set) var functions: [String: Builtin] = [:]
    public private(set) var namespaces: [String: Namespace] = [:]
    public private(set) var topics: [(String, [String])] = []   // help sections, in order
    /// Meta-commands (`:help`, `:plugins`, …) in the order `:help` lists them; `:quit` is always the last.
    public private(set) var metaCommands: [MetaCommand] = []
    /// Readers of the safetensors files later layers write, by their metadata "format" (`load` calls them).
    public private(set) var objectReaders: [String: (SafeTensorsFile) throws -> DreamObject] = [:]

    /// `:help NAME` for names that are not functions (samplers, schedules, …), asked in order.
    public private(set) var helpProviders: [(String) -> String?] = []

    public init() {}

    public func register(help: @escaping (String) -> String?) { helpProviders.append(help) }

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
