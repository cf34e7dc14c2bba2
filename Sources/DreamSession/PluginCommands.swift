import Foundation
import DreamLang

extension Session {
    /// `:plugins` (what is loaded) and `:plugin load NAME|PATH`.
    func registerPluginCommands() {
        registry.register(meta: MetaCommand("plugins", usage: ":plugins") { _, _, ip in
            guard self.pluginFolders != nil else { ip.write("plugins are disabled (--no-plugins)\n"); return }
            if self.plugins.loaded.isEmpty { ip.write("no plugins loaded\n"); return }
            for p in self.plugins.loaded {
                var parts: [String] = []
                if !p.functions.isEmpty { parts.append("functions " + p.functions.sorted().map { "\(p.name).\($0)" }.joined(separator: ", ")) }
                if !p.samplers.isEmpty { parts.append("samplers " + p.samplers.sorted().joined(separator: ", ")) }
                ip.write("\(p.name): \(p.doc.isEmpty ? "" : p.doc + "; ")\(parts.joined(separator: "; ")) (\(p.path))\n")
            }
        })
        registry.register(meta: MetaCommand("plugin", usage: ":plugin load NAME|PATH") { rest, loc, ip in
            let parts = rest.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "load" else { throw DreamError(.runtime, "usage: :plugin load NAME|PATH", at: loc) }
            guard let folders = self.pluginFolders else {
                throw DreamError(.runtime, "cannot load plugin '\(parts[1])': plugins are disabled (--no-plugins)", at: loc)
            }
            // Besides the plugin path, the repository's own plugin packages (Plugins/NAME, once built).
            let dirs = folders + ["Plugins"]
            guard let path = PluginHost.find(parts[1], in: dirs) else {
                throw DreamError(.runtime, "cannot load plugin '\(parts[1])': no plugin of that name or path (searched \(dirs.joined(separator: ", ")))", at: loc)
            }
            do {
                let p = try self.plugins.load(path: path)
                ip.write("loaded plugin \(p.name) from \(path)\n")
            } catch { throw DreamError(.runtime, "\(error)", at: loc) }
        })
    }
}
