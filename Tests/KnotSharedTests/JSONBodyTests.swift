import Foundation
import Hummingbird
import XCTest

@testable import KnotServiceKit

final class JSONBodyTests: XCTestCase {
    struct Launch: Decodable {
        var template: String
        var values: [String: String]?
        var tags: [String]?
    }

    func message(_ json: String) -> String {
        do {
            _ = try JSONDecoder().decode(Launch.self, from: Data(json.utf8))
            return "decoded"
        } catch let error as DecodingError {
            return Request.describeDecodingError(error)
        } catch {
            return "\(error)"
        }
    }

    func testMessagesNameTheFieldAndWhatWasExpected() {
        XCTAssertEqual(message("[]"), "the body must be an object")
        XCTAssertEqual(message("{}"), "missing field \"template\"")
        XCTAssertEqual(message(#"{"template": 3}"#), "\"template\" must be a string")
        XCTAssertEqual(message(#"{"template": null}"#), "\"template\" must be a string, not null")
        XCTAssertEqual(message(#"{"template": "t", "values": []}"#), "\"values\" must be an object")
        XCTAssertEqual(message(#"{"template": "t", "values": {"NAME": 1}}"#), "\"values.NAME\" must be a string")
        XCTAssertEqual(message(#"{"template": "t", "tags": {}}"#), "\"tags\" must be an array")
        XCTAssertEqual(message(#"{"template": "t", "tags": ["a", 2]}"#), "\"tags[1]\" must be a string")
        XCTAssertEqual(message("{not json"), "the body is not valid JSON")
        XCTAssertEqual(message(#"{"template": "t"}"#), "decoded")
    }
}
