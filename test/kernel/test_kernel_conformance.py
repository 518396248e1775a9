"""Debian's jupyter_kernel_test suite against the installed FSAM Lab kernel, every check enabled."""
import jupyter_kernel_test

from conftest import KERNEL_NAME


class FsamLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL_NAME

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The suite's 15 s timeouts are per message; the first cell also builds the TypeScript
        # program, which can take longer on a shared machine, so do that once here.
        cls.kc.execute_interactive("0", timeout=180)

    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    completion_samples = [
        {"text": "Math.ab", "matches": {"abs"}},
        {"text": "fsam.hfNa", "matches": {"hfName"}},
    ]

    complete_code_samples = ["1", "let a = 1;", "function f() { return 1; }", "for (const i of [1]) {\n  i;\n}"]
    incomplete_code_samples = ["function f() {", "1 +", "if (true) {\n  const y = 2;", "const a = [1,"]
    invalid_code_samples = ["let x = ;", ")", "1 +* 2"]

    code_inspect_sample = "Math.max"

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"ab" + "c"', "result": "'abc'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
    ]
    code_history_pattern = "6 * 7"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
        {"code": 'display.markdown("# title")', "mime": "text/markdown"},
        {"code": 'display({ data: [{ y: [1, 2] }], layout: {} })', "mime": "application/vnd.plotly.v1+json"},
    ]

    code_clear_output = "clearOutput()"

    code_page_something = "fsam.FisherSAM?"

    code_generate_error = 'throw new Error("boom")'
