import Foundation
import DreamLang
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamMethod
import DreamAssets
import DreamWorld

/// One dream session: the language's registry with the domain's built-ins bound to this session, and
/// everything they share — the models loaded by path, the evaluator (its oracle and truth-set cache),
/// the samplers and the plugins that added to them. Owned by whoever runs the session (the CLI, a test),
/// so that two sessions share nothing.
public final class Session {
    public let registry: Registry
    public let samplers = SamplerRegistry()
    public let plugins: PluginHost
    /// Folders searched for plugins (`:plugin load NAME`, and at start); nil when plugins are disabled.
    public let pluginFolders: [String]?
    /// Where what is computed once per machine (truth-set features) is kept.
    public let cacheFolder: String
    var models: [String: StableDiffusion] = [:]
    var loadedEvaluator: Evaluator?

    /// What the session's work runs with (threads, cancellation, progress, memory accounting): installed by
    /// `run`, so that nothing the session does reads process-wide state.
    public let context: ExecutionContext

    /// `pluginFolders` nil: plugins disabled (`--no-plugins`).
    public init(pluginFolders: [String]? = [], cacheFolder: String = Session.defaultCacheFolder(), context: ExecutionContext = ExecutionContext()) {
        self.context = context
        registry = Registry.standard()
        self.pluginFolders = pluginFolders
        self.cacheFolder = cacheFolder
        plugins = PluginHost(registry: registry, samplers: samplers)
        registerModels()
        registerWorld()
        registerDistributions()
        registerEvaluation()
        registerPluginCommands()
        registry.register(help: { [weak self] name in self?.samplerHelp(name) })
    }

    /// Runs `body` (the session's work: a script, the REPL) with the session's context installed.
    public func run<T>(_ body: () throws -> T) rethrows -> T { try context.run(body) }

    /// The names a string argument takes, for completion: a sampler, a schedule or a concept, by the
    /// argument's label or (for a first positional string) the function's name; nil when it is free text.
    public func stringChoices(label: String?, function: String?) -> [String]? {
        switch label {
        case "sampler": return samplers.names
        case "schedule": return StepSchedule.kinds.map(\.name)
        case "reference", "concept": return World.concepts.map(\.name)
        case nil where ["world.references", "world.concept", "world.truth"].contains(function ?? ""): return World.concepts.map(\.name)
        default: return nil
        }
    }

    /// `:help NAME` for a sampler (dream's own or a plugin's) or a step schedule.
    func samplerHelp(_ name: String) -> String? {
        if let e = samplers[name] {
            let origin = plugins.loaded.first { $0.samplers.contains(name) }.map { "from the plugin \($0.name)" } ?? "of dream's own"
            return "\(name): a sampler \(origin) (step schedule family \(e.family.rawValue)).\n  use: generate(m, \"a red cone\", sampler: \"\(name)\"); samplers() lists them all"
        }
        if let k = StepSchedule.kinds.first(where: { $0.name == name }) {
            return "\(name): a step schedule — \(k.doc).\n  use: generate(m, \"a red cone\", schedule: \"\(name)\")"
        }
        return nil
    }

    /// A model by path (and config, prediction), loaded once per session and reloaded when its files changed.
    public func loadModel(_ path: String, config: String? = nil, prediction: String? = nil) throws -> StableDiffusion {
        let key = [(path as NSString).standardizingPath, config ?? "", prediction ?? ""].joined(separator: "\u{1}")
        if let m = models[key], m.isCurrent { return m }
        let m = try StableDiffusion(path: path, tokenizer: Assets.clipTokenizer, config: config, prediction: prediction)
        models[key] = m
        return m
    }

    /// The oracle and the evaluator, loaded on first use from the shipped weights.
    public func evaluator() throws -> Evaluator {
        if let e = loadedEvaluator { return e }
        // The cache file names carry a hash of the oracle's weights, so new weights never read old features.
        let identity = Evaluator.hash(FileManager.default.contents(atPath: Assets.oracle) ?? Data())
        let e = Evaluator(oracle: try Oracle(path: Assets.oracle), identity: identity, cacheFolder: cacheFolder)
        loadedEvaluator = e
        return e
    }

    /// $DREAM_CACHE, else $XDG_CACHE_HOME/dream, else ~/.cache/dream.
    public static func defaultCacheFolder() -> String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["DREAM_CACHE"], !d.isEmpty { return d }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return x + "/dream" }
        return NSHomeDirectory() + "/.cache/dream"
    }

    /// Loads the plugins found directly in the plugin folders; one that fails is reported by `warn` and skipped.
    public func loadPlugins(warn: (String) -> Void) {
        for lib in PluginHost.libraries(in: pluginFolders ?? []) {
            do { try plugins.load(path: lib) } catch { warn("\(error)") }
        }
    }
}
