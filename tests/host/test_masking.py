"""Host output and the scanner's screen mask identically: one policy file, two interpreters."""

import json

from sealscan import boards, codes, masking
from sealscan.paths import FIRMWARE_DIR
from sealsim import micropython as mp

NAMES = ["张三", "欧阳娜娜", "诸葛亮", "李", "", "John Smith", " 王小明 ", "Ngô Bảo Châu", "A" * 40]
PHONES = ["13812345678", "+86 138 1234 5678", "010-87654321", "87654321", "12", "",
          "0085291234567"]
IDS = ["11010519491231002X", "E12345678", "12345", "", "810000199408230021"]

_SNIPPET = """
import json, mask
args = json.loads(%r)
print(json.dumps([[mask.name(x.encode()) for x in args[0]],
                  [mask.phone(x.encode()) for x in args[1]],
                  [mask.id_number(x.encode()) for x in args[2]]]))
"""


def test_host_masks_exactly_like_the_device():
    board = boards.load_board(boards.DEFAULT_BOARD)
    corpus = json.dumps([NAMES, PHONES, IDS])
    proc = mp.run(["-c", _SNIPPET % corpus], heap_bytes=board.heap_bytes,
                  path=mp.module_path(FIRMWARE_DIR, shims=False))
    assert proc.returncode == 0, proc.stderr.decode()
    on_device = json.loads(proc.stdout)
    on_host = [[masking.name(x) for x in NAMES], [masking.phone(x) for x in PHONES],
               [masking.id_number(x) for x in IDS]]
    assert on_host == on_device
    # and the codes library (verify output, token repr) uses the same functions
    assert [codes.mask_name(x) for x in NAMES] == on_host[0]


def test_host_masking_hides_what_the_rules_require():
    assert masking.name("欧阳娜娜") == "欧阳**"
    assert masking.phone("13812345678") == "1******5678"
    assert masking.id_number("11010519491231002X") == "1" + "*" * 15 + "2X"
