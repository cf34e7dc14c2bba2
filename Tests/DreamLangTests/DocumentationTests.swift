import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamSession

/// The documentation that ships with the project: the built-ins list of docs/language.md is the registry's
/// (DREAM_RECORD=1 rewrites it), and no document or help text sends a reader outside the repository.
final class DocumentationTests: XCTestCase {
    static let begin = "<!-- builtins:begin -->\n", end = "<!-- builtins:end -->"

    func testTheBuiltinsPageIsTheRegistry() throws {
        let url = repoRoot.appendingPathComponent("docs/language.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let b = try XCTUnwrap(text.range(of: Self.begin)), e = try XCTUnwrap(text.range(of: Self.end))
        let generated = Session().registry.markdownReference
        if ProcessInfo.processInfo.environment["DREAM_RECORD"] == "1" {
            try (String(text[..<b.upperBound]) + generated.drop { $0 == "\n" } + String(text[e.lowerBound...])).write(to: url, atomically: true, encoding: .utf8)
            return
        }
        XCTAssertEqual(String(text[b.upperBound..<e.lowerBound]), String(generated.drop { $0 == "\n" }),
                       "docs/language.md lists other built-ins than the registry has: DREAM_RECORD=1 rewrites it")
        // Every function of a plain session is on the page.
        for name in Session().registry.allNames { XCTAssertTrue(text.contains("`\(name)("), "\(name) missing from docs/language.md") }
    }

    func testNoDocumentPointsOutsideTheRepository() throws {
        let fm = FileManager.default
        var docs = ["README.md"] + (try fm.contentsOfDirectory(atPath: repoRoot.appendingPathComponent("docs").path)).filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        docs += ["scripts/quickstart.dream", "scripts/reproduce.dream", "scripts/lib/measures.dream"]
        var texts = try docs.map { ($0, try String(contentsOf: repoRoot.appendingPathComponent($0), encoding: .utf8)) }
        // :help texts too: every built-in's doc and parameter notes.
        texts.append(("the :help texts", Session().registry.markdownReference))
        let pathPattern = try NSRegularExpression(pattern: #"(?<![\w/.])((?:docs|scripts|Sources|Plugins|Tests)/[\w./-]*\w)"#)
        for (name, text) in texts {
            XCTAssertFalse(text.contains("../"), "\(name) points outside the repository (../)")
            XCTAssertFalse(text.contains("shared/spec") || text.contains("METHOD.md") || text.contains("WORLD.md") || text.contains("LANGUAGE.md"),
                           "\(name) cites the team's specs, which a user does not have")
            // Every repository path it names exists (a glob's directory part, for patterns).
            for m in pathPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                var path = String(text[Range(m.range(at: 1), in: text)!])
                if path.contains("*") || path.contains("NAME") || path.contains("CONCEPT") { path = (path as NSString).deletingLastPathComponent }
                if path.hasSuffix(".so") || path.contains(".build") { continue }   // build products
                XCTAssertTrue(fm.fileExists(atPath: repoRoot.appendingPathComponent(path).path), "\(name) names \(path), which is not in the repository")
            }
        }
    }
}
