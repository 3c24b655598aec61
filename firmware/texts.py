# Every text the courier sees: one id each, its words in each UI language (the one owner of
# screen and status texts; code stores and compares ids, never words).
#
# Nothing of this module is in the device's RAM. The words: `sealscan firmware font`
# (sealscan.fonttool; run it after changing this file) reads WORDS below and writes them into
# the font asset `font.bin` next to the glyphs; display.py reads one text from flash when the
# screen is drawn (MicroPython compiles nothing of an `if False:` block). The ids: modules use
# them as `import texts as T` ... `T.SCAN_BADGE`, and the build folds each into its number
# (sealscan.fwtools.fold_text_ids, as mpy-cross folds a module's own const()), so no module
# imports texts at run time.
#
# Rules for the words (tests/firmware/test_screen_texts.py renders every one on both displays):
# plain words, what happened then what to do ("\n" splits the two lines of a message), no
# codes or abbreviations; `%s`/`%d` take the value the firmware formats in.
from micropython import const

LANGS = ("zh", "en")  # index = the language number in font.bin; NVS "lang" holds the name
ZH = const(0)
EN = const(1)
# messages (Flow.message): what happened, then what to do
SCAN_BADGE = const(0)
SCAN_BOTH = const(1)
SCAN_WAYBILL = const(2)
SCAN_ID = const(3)
LOGIN_FIRST = const(4)
OVERDUE_NO_ID = const(5)
NOT_WAYBILL = const(6)
OTHER_CARRIER = const(7)
WAYBILL_MISREAD = const(8)
NO_CARRIER = const(9)
UNREADABLE = const(10)
BUSY = const(11)
ID_INVALID = const(12)
ID_EXPIRED = const(13)
BADGE_OTHER_CARRIER = const(14)
BADGE_INVALID = const(15)
BADGE_EXPIRED = const(16)
CONFIG_APPLIED = const(17)
CONFIG_INVALID = const(18)
CONFIG_USED = const(19)
CONFIG_BAD_URL = const(20)
WAIT_NETWORK = const(21)
WAIT_QUEUE = const(22)
CANNOT_SEAL = const(23)
CANCELLED = const(24)
ID_TIMED_OUT = const(25)
# status bar, labels
ONLINE = const(26)
OFFLINE = const(27)
COURIER = const(28)
NOT_LOGGED_IN = const(29)
SENDER = const(30)
ID_NUMBER = const(31)
WAYBILL = const(32)
# a capture's state, then the upstream's verdict
REC_SENDING = const(33)
REC_ACCEPTED = const(34)
REC_REJECTED = const(35)
REC_ID_EXPIRED = const(36)
REC_ID_NOT_VERIFIED = const(37)
# the overdue alarm
OVERDUE = const(38)
LOW_MEMORY = const(39)  # the board's RAM ran out (handheld.low_memory)
COUNT = const(40)

if False:  # (host only: read by sealscan.fonttool, never compiled for the device)
    WORDS = {
        # id: (zh, en)
        SCAN_BADGE: ("请扫描工牌登录", "Scan your badge\nto log in"),
        SCAN_BOTH: ("请扫描寄件人\n身份码和运单", "Scan the sender's\nID code and waybill"),
        SCAN_WAYBILL: ("身份码已读\n请扫描运单", "ID code read\nNow scan the waybill"),
        SCAN_ID: ("运单已读\n请扫描身份码", "Waybill read\nNow scan the ID code"),
        LOGIN_FIRST: ("还未登录\n请先扫描工牌", "Not logged in\nScan your badge first"),
        OVERDUE_NO_ID: ("记录上传超时\n请先连网上传", "Upload overdue\nGet online, then scan"),
        NOT_WAYBILL: ("这不是运单号\n请扫描运单条码", "Not a waybill\nScan the waybill code"),
        OTHER_CARRIER: ("不是%s的运单\n请扫本公司运单", "Not a %s waybill\nScan a %s waybill"),
        WAYBILL_MISREAD: ("运单号校验不对\n请重新扫描", "Waybill misread\nScan it again"),
        NO_CARRIER: ("未设置快递公司\n请联系网点", "No carrier set\nCall your depot"),
        UNREADABLE: ("无法识别此码\n请重新扫描", "Code not readable\nScan it again"),
        BUSY: ("设备忙\n请重新扫描", "Device busy\nScan it again"),
        ID_INVALID: ("身份码无效\n请寄件人重新出示", "ID code not valid\nAsk for a new one"),
        ID_EXPIRED: ("身份码已过期\n请寄件人刷新", "ID code expired\nAsk for a new one"),
        BADGE_OTHER_CARRIER: ("不是%s的工牌\n请用本公司工牌", "Badge not for %s\nUse your own badge"),
        BADGE_INVALID: ("工牌无效\n请联系网点", "Badge not valid\nCall your depot"),
        BADGE_EXPIRED: ("工牌已过期\n请联系网点", "Badge expired\nCall your depot"),
        CONFIG_APPLIED: ("设置已更新\n正在连网", "Settings updated\nConnecting"),
        CONFIG_INVALID: ("设置码无效\n请联系网点", "Settings code bad\nCall your depot"),
        CONFIG_USED: ("设置码已用过\n请联系网点", "Settings code used\nCall your depot"),
        CONFIG_BAD_URL: ("设置码地址错误\n请联系网点", "Settings address bad\nCall your depot"),
        WAIT_NETWORK: ("已暂存 等待网络\n请稍候", "Held: no network yet\nPlease wait"),
        WAIT_QUEUE: ("待传记录已满\n请稍候", "Too many unsent\nPlease wait"),
        CANNOT_SEAL: ("无法加密此记录\n请重新扫描", "Record not sealed\nScan both again"),
        CANCELLED: ("已取消\n请扫描身份码和运单", "Cancelled\nScan ID and waybill"),
        ID_TIMED_OUT: ("等待超时 已清除\n请重新扫描", "Timed out, cleared\nScan both again"),
        ONLINE: ("已联网 待传%d条", "Online, %d unsent"),
        OFFLINE: ("未联网 待传%d条", "Offline, %d unsent"),
        COURIER: ("快递员 %s", "Courier %s"),
        NOT_LOGGED_IN: ("未登录", "Not logged in"),
        SENDER: ("寄件人 %s", "Sender %s"),
        ID_NUMBER: ("证件 %s", "ID %s"),
        WAYBILL: ("运单 %s", "Waybill %s"),
        REC_SENDING: ("正在上传", "Sending"),
        REC_ACCEPTED: ("已收寄 √", "Accepted √"),
        REC_REJECTED: ("被拒收 ×", "Rejected ×"),
        REC_ID_EXPIRED: ("身份码过期 ×", "ID expired ×"),
        REC_ID_NOT_VERIFIED: ("身份未核实 ×", "ID refused ×"),
        OVERDUE: ("上传超时!\n请到有网络处", "Upload overdue!\nGo where there is Wi-Fi"),
        LOW_MEMORY: ("内存不足 暂停上传\n请勿关机 联系网点",
                     "Memory low: on hold\nKeep it on, call depot"),
    }
