import Foundation
import XCTest
import DreamTestSupport
import DreamModels

/// Token ids against transformers' CLIPTokenizer on 240 varied prompts (Tests/Fixtures/clip, made by
/// scripts/make-sd-fixtures.py), with SD 1.x and SD 2.x padding.
final class CLIPTokenizerTests: XCTestCase {
    func testIdsEqualTransformersOnEveryFixturePrompt() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: clipDir + "/tokenizer-cases.json"))
        let cases = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let prompts = cases["prompts"] as! [String]
        XCTAssertGreaterThanOrEqual(prompts.count, 200)
        for (key, padKey) in [("sd1", "sd1_pad"), ("sd2", "sd2_pad")] {
            let tok = try CLIPTokenizer(vocabPath: clipDir + "/vocab.json", mergesPath: clipDir + "/merges.txt",
                                        padToken: cases[padKey] as! String)
            let expected = cases[key] as! [[Int]]
            var mismatches = 0
            for (p, ids) in zip(prompts, expected) {
                let got = tok.encode(p)
                if got != ids {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("\(key) \(p.debugDescription):\n got      \(got)\n expected \(ids)") }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(key): \(mismatches) of \(prompts.count) prompts differ")
        }
    }

    func testMissingFilesNameThePath() {
        XCTAssertThrowsError(try CLIPTokenizer(vocabPath: "/nope/vocab.json", mergesPath: clipDir + "/merges.txt")) {
            XCTAssertTrue("\($0)".contains("/nope/vocab.json"), "\($0)")
        }
    }
}
