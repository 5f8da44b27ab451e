"""Synthetic demo data with planted effects: complaint work orders, satisfaction surveys, ground truth.

``python -m tousu.demo.data [--out DIR] [--seed N] [--complaints N]`` writes into ``data/demo/``:

* ``complaints.csv`` – work orders as a telecom quality team exports them (text, times, channel,
  the agent's category with some noise);
* ``surveys.csv`` – CSAT/NPS surveys, most following a complaint, some from customers without one;
* ``truth.csv`` – the category (and, where it has children, the level-2 category) each text was generated from,
  and every category the text states (two for the planted multi-issue orders);
* ``planted_effects.yaml`` and ``README.md`` – what was planted, so an analysis can be checked
  against the truth.

Everything is synthetic.  The texts are composed from interchangeable fragments and deliberately
avoid the taxonomy's keywords often enough that keyword matching cannot solve them; the satisfaction
scores come from a small latent model (baseline minus a per-category drop, minus a repeat penalty,
plus noise).  The same seed gives byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from tousu.models.taxonomy import load_taxonomy
from tousu.nlp.paths import data_dir

DEFAULT_SEED = 20261122
DEFAULT_COMPLAINTS = 3000

PERIOD_START = date(2026, 5, 1)
PERIOD_END = date(2026, 10, 31)
# The export is taken at midnight after the last day: later responses/resolutions are not yet known.
SNAPSHOT = datetime(2026, 11, 1)

# ---------------------------------------------------------------------------------------------
# Planted effects.  README.md and planted_effects.yaml are written from these, never by hand.
# ---------------------------------------------------------------------------------------------

CATEGORY_MIX = {
    "BIL": 0.18, "MIS": 0.14, "NET": 0.16, "HDL": 0.08, "HOT": 0.07, "QUE": 0.06,
    "ATT": 0.06, "CHG": 0.06, "INS": 0.06, "SEC": 0.06, "VAS": 0.04, "OTH": 0.03,
}
CODES = tuple(CATEGORY_MIX)

CSAT_BASELINE = 4.4  # latent satisfaction of a respondent without a complaint
# How much a complaint of each category lowers latent satisfaction (1-5 scale).
CSAT_DROP = {
    "MIS": 1.9, "HDL": 1.7, "ATT": 1.4, "BIL": 1.2, "HOT": 1.0, "CHG": 0.9,
    "INS": 0.8, "QUE": 0.7, "SEC": 0.65, "VAS": 0.6, "NET": 0.5, "OTH": 0.3,
}
REPEAT_PENALTY = 0.3
PERSON_SD = 0.6    # spread of latent satisfaction between respondents
CSAT_SD = 0.5      # answer noise on the CSAT question
NPS_INTERCEPT = 8.6
NPS_SLOPE = 2.2    # NPS points per point of latent satisfaction
NPS_SD = 1.2
# Pairs far enough apart (>= 0.9 latent points) that their CSAT means separate at the default size.
STRONG_VS_WEAK = (("MIS", "NET"), ("HDL", "NET"), ("MIS", "OTH"), ("HDL", "VAS"), ("ATT", "NET"),
                  ("BIL", "OTH"))

# Multi-issue orders: a share of the billing disputes were also met with rudeness while the customer
# disputed the bill; the text states both problems, truth.csv lists both, and the satisfaction
# drops add up (drop(BIL) + drop(ATT)).
MULTI_ISSUE_CATEGORY = "BIL"
MULTI_ISSUE_SECOND = "ATT"
MULTI_ISSUE_SHARE = 0.2
MULTI_ISSUE_AGENT_SECOND = 0.5  # agents file this share of them under the second problem

# What changed between the last two complete months (survey months, as `tousu link --compare`
# reads them): complaints about complaint handling double in October (mix), and network
# complainants answering in October are less satisfied than before (rate).
CHANGE_PERIODS = ("2026-09", "2026-10")
MIX_CATEGORY = "HDL"
MIX_FACTOR = 2.0  # its orders created in October, relative to what they would have been
# The extra October orders replace October orders of these categories (not repeats), so the
# total stays the same and the growing, the rate and the flat categories keep theirs.
MIX_DONORS = ("ATT", "CHG", "HOT", "INS", "OTH", "QUE", "VAS")
RATE_CATEGORY = "NET"
RATE_DROP = 1.0  # further latent drop of its complainants whose survey falls in October

GROWTH_CATEGORY = "SEC"
GROWTH_START = date(2026, 9, 13)  # last 7 weeks
GROWTH_PEAK = 3.0                 # daily rate on the last day relative to before the window

SURVEY_RATE = 0.7
NO_COMPLAINT_RESPONDENTS_PER_COMPLAINT = 0.5  # 1,500 at the default 3,000 complaints
AGENT_NOISE = 0.05
NEVER_RESPONDED = 0.015

REPEAT_RATE = {"HDL": 0.35, "NET": 0.25, "INS": 0.18, "BIL": 0.12}
DEFAULT_REPEAT_RATE = 0.10
# Median hours (log-normal) from creation to first response, and from first response to resolution.
RESPONSE_MEDIAN_H = {"HDL": 18.0, "MIS": 8.0, "INS": 8.0, "CHG": 6.0, "BIL": 5.0}
DEFAULT_RESPONSE_MEDIAN_H = 3.5
RESOLUTION_MEDIAN_H = {"HDL": 60.0, "INS": 40.0, "NET": 36.0, "MIS": 30.0, "CHG": 28.0}
DEFAULT_RESOLUTION_MEDIAN_H = 18.0
TIME_SIGMA = 0.9
STUCK_OPEN = {"HDL": 0.06}  # share left open for no visible reason
DEFAULT_STUCK_OPEN = 0.02
ESCALATION_MENTION = {"MIS": 0.25, "HDL": 0.35, "BIL": 0.10, "OTH": 0.0}
DEFAULT_ESCALATION_MENTION = 0.05

CHANNELS = ("热线", "营业厅", "APP", "网厅", "工信部转办")
CHANNEL_WEIGHTS = {
    "default": (0.46, 0.20, 0.19, 0.12, 0.03),
    "MIS": (0.38, 0.18, 0.17, 0.12, 0.15),
    "HDL": (0.40, 0.15, 0.17, 0.11, 0.17),
    "QUE": (0.25, 0.50, 0.12, 0.10, 0.03),
}
PROVINCES = ("广东", "江苏", "浙江", "山东", "河南", "四川", "湖北", "北京")
PROVINCE_WEIGHTS = (0.19, 0.14, 0.13, 0.13, 0.12, 0.11, 0.09, 0.09)
SEGMENTS = ("个人", "家庭宽带", "政企", "校园")
SEGMENT_WEIGHTS = {"default": (0.72, 0.14, 0.08, 0.06), "NET": (0.52, 0.36, 0.07, 0.05),
                   "INS": (0.35, 0.55, 0.08, 0.02)}
TOUCHPOINT_BY_CHANNEL = {"热线": "10086热线", "营业厅": "营业厅", "APP": "APP", "网厅": "APP", "工信部转办": "10086热线"}
TOUCHPOINTS = ("10086热线", "营业厅", "装维", "APP")
NO_COMPLAINT_TOUCHPOINT_WEIGHTS = (0.35, 0.25, 0.15, 0.25)
# Agents who pick the wrong code mostly pick a neighbouring one.
AGENT_CONFUSIONS = {
    "BIL": ("MIS", "VAS"), "MIS": ("BIL", "VAS"), "CHG": ("MIS", "BIL"), "NET": ("INS",), "INS": ("NET", "HDL"),
    "HOT": ("HDL", "ATT"), "QUE": ("ATT",), "HDL": ("HOT", "ATT"), "ATT": ("HDL", "QUE"), "SEC": ("OTH", "VAS"),
    "VAS": ("BIL", "MIS"), "OTH": ("BIL",),
}
HOUR_WEIGHTS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 7, 10, 10, 9, 7, 8, 9, 9, 9, 8, 7, 6, 6, 5, 3, 2], float)
STORE_HOUR_WEIGHTS = np.where((np.arange(24) >= 9) & (np.arange(24) < 18), HOUR_WEIGHTS, 0.0)
WEEKDAY_WEIGHTS = np.array([1.15, 1.05, 1.0, 1.0, 1.0, 0.9, 0.85])  # Monday first

COMPLAINT_COLUMNS = ("工单号", "客户号", "内容", "受理时间", "首次响应时间", "办结时间", "省份", "渠道", "客户类型",
                     "重复投诉", "人工分类")
SURVEY_COLUMNS = ("问卷号", "工单号", "客户号", "触点", "调查时间", "CSAT", "NPS")
TRUTH_COLUMNS = ("工单号", "true_category", "true_subcategory", "true_categories")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# ---------------------------------------------------------------------------------------------
# Text fragments.  Slots in braces are filled per text (see _Slots); a slot used twice in one text
# gets the same value.  Many fragments describe the problem without the category's keyword.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One sub-case of a category: core situations, in the category's usual words (named) or
    describing the problem without them (described), and details that fit either."""
    named: tuple[str, ...]
    described: tuple[str, ...]
    details: tuple[str, ...]
    demands: tuple[str, ...] = ()  # when the category's demands do not fit this sub-case


CASES: dict[str, tuple[Case, ...]] = {
    "BIL": (
        Case(
            named=(
                "这个月话费比平时多了{amt}块，也不知道扣的什么",
                "本月话费被乱扣了{amt}元",
                "查账单发现有一笔不明扣费",
                "话费无故多扣了{amt}元",
                "账单上有一笔{amt}元的费用看不懂",
                "查了详单有好几项收费看不明白",
                "{month}的扣费明显不对，多出来{amt}元",
            ),
            described=(
                "平时每个月就{fee}块左右，这个月出来{bill}",
                "手机里的钱莫名其妙少了{amt}元",
                "我就打了几个电话，怎么就没钱了",
                "余额一下子少了{amt}块，我啥也没干啊",
                "月初才充的100，半个月就提示余额不足了",
                "本月被扣了{amt}元，客户称不清楚是什么钱",
            ),
            details=(
                "查了详单也没看出用了啥",
                "这个月根本没出过省",
                "号是家里老人在用，平时基本不打电话",
                "营业厅的人也说不清楚是哪来的",
                "之前从来没有这么多过",
                "APP上查的明细和短信提醒对不上",
                "客户每个月都是自动扣款，这次才注意到",
                "家里几个号都是一样的情况",
            ),
        ),
        Case(
            named=(
                "账单上多了{amt}元流量费",
                "出国回来收了{bill}元漫游费，太离谱",
                "我平时都不发短信，账单上却有短信的钱",
                "{month}流量费收了{amt}元，套餐内明明还有{gb}G",
            ),
            described=(
                "流量明明没用完却收了超出的钱",
                "出了一趟差回来多了{amt}块漫游的钱",
                "手机一直连着家里的网，怎么还跑了{gb}个G",
                "套餐里的分钟数还没用完就开始另外算钱了",
                "看了会儿视频就多出来{amt}元",
                "半夜手机放着没动，第二天提示流量超了",
            ),
            details=(
                "客户称手机后台没有开自动更新",
                "套餐里写的是{gb}G通用流量",
                "定向流量和通用流量到底怎么算的也没人说清",
                "超出部分一个G要收好几块，太黑了",
                "去年同样的用法一分钱没多收过",
                "手机流量开关一直是关着的",
            ),
        ),
        Case(
            named=(
                "说好的退费一直没到账",
                "充值{fee}元一直没到账",
                "营业厅答应返还的话费券没到",
                "办活动说送的{amt}元话费一直没看到",
                "退款说七个工作日，现在都一个月了",
            ),
            described=(
                "上次说好退的{amt}元到现在还没退回来",
                "在APP上充了{fee}元一直没到账",
                "{date}交的{fee}块钱，钱扣了号码还是停机状态",
                "多收的钱答应退，结果只退了一半",
            ),
            details=(
                "银行卡那边显示已经扣款成功",
                "客户提供了支付截图",
                "每次问都说在走流程",
                "客服给了个受理编号，后面就没消息了",
                "当时营业员是当面答应的",
                "客服说已经提交了，让客户再等等",
                "客户说前后问了三次",
            ),
            demands=("要求尽快到账", "要求按说好的返还", "要求给个到账时间", "要求把钱退回原卡"),
        ),
        Case(
            named=(
                "{plan}每个月要{fee}太贵了，根本用不完",
                "{plan}月租太贵了",
                "保底消费{fee}元不合理",
                "月租悄悄涨了{amt}块，没人通知我",
            ),
            described=(
                "家里的宽带一年要一千多，别家才几百",
                "说是每个月最少要消费{fee}元，用不完也得交",
                "优惠到期后价格直接翻倍了",
                "老用户的价格比新用户贵一大截，太不公平",
                "一个月{fee}的套餐，实际能用的没多少",
            ),
            details=(
                "客户是十几年的老用户了",
                "新用户办同样的只要一半的钱",
                "到期前没有任何短信提醒",
                "问了营业厅说优惠期就是一年",
                "客户每个月实际只用几个G",
                "客户称家里老人根本用不了这么多",
            ),
        ),
    ),
    "MIS": (
        Case(
            named=(
                "未经同意给我开通了{vas}",
                "客户称被不知情定制了{vas}",
                "不知情的情况下被定制了{vas}",
                "莫名开通了{vas}，本人从未办理",
            ),
            described=(
                "我从来没办过这个业务怎么每个月多了{amt}块",
                "营业员私自给开通了{vas}",
                "莫名其妙多了个{vas}，我根本不知道",
                "查了才发现被开了{vas}，已经扣了{n}个月了",
                "前段时间打电话说免费体验，结果现在开始收钱了",
                "营业员趁我办别的事偷偷给我加了个{vas}",
                "家里老人的手机被开了一堆会员",
                "根本没同意，怎么就给我换成了{plan}",
                "收到短信说业务已经生效，我压根没点过什么",
                "每个月都有{amt}元的{vas}费用，我一次都没用过",
                "客户称手机上多了个{vas}，本人从未申请",
            ),
            details=(
                "前后算下来扣了一百多",
                "从来没有收到过确认短信",
                "老人连智能手机都不会用，不可能自己开",
                "营业厅查了说是外呼办的",
                "客户表示当时电话里只说是送的",
                "要不是看账单都发现不了",
                "客户称从没在手机上点过什么链接",
            ),
            demands=("要求取消并退还全部费用", "要求马上关掉并全额退款", "要求赔偿损失", "要求查明是谁办的"),
        ),
        Case(
            named=(
                "营业员夸大宣传，说的{gb}G流量根本没有",
                "宣传的和实际完全不符，属于虚假宣传",
                "办理时承诺的优惠到现在也没兑现",
            ),
            described=(
                "办{plan}的时候说每个月送{gb}G流量，结果根本没有",
                "当时说免费送宽带，现在开始收钱了",
                "营业员说改套餐更划算，结果每个月多交{amt}块",
                "说好的话费返还一分都没返",
                "宣传单上写的和实际完全是两回事",
                "推销的时候说随时能取消，现在又说不能退",
                "说是充{fee}送手机，拿到手才知道要每月最低消费",
                "电话里说给我升级成更便宜的，结果越用越贵",
            ),
            details=(
                "当时营业员拍着胸脯保证的",
                "客户保留了宣传单",
                "电话录音可以查",
                "现在营业员说那是口头说的不算",
                "同一批办的邻居都遇到了",
                "客户称就是冲着这个优惠才办的",
            ),
            demands=("要求按当时说的兑现", "要求赔偿损失", "要求无责解约"),
        ),
        Case(
            named=(
                "办合约机的时候没告知合约期，现在要交{big}元违约金",
                "想换套餐才知道还在合约期，要交{big}元违约金",
            ),
            described=(
                "办{brand}手机的时候根本没说要绑两年",
                "选号的时候说没有最低消费，现在说每个月必须用够{fee}",
                "家里的宽带办的时候没人说是包三年的，现在拆机要赔钱",
                "签字的时候营业员一直催，根本没给看条款",
                "办卡送的手机原来是要每个月交{fee}连交两年",
            ),
            details=(
                "协议上的字小得根本看不清",
                "客户称营业员当时只说是优惠活动",
                "如果早知道根本不会办",
                "现在要求解约却被要求交违约金",
                "客户年纪大了，字都看不太清",
            ),
            demands=("要求免除违约金", "要求无责解约", "要求调出当时的录音"),
        ),
        Case(
            named=(
                "营业厅强制捆绑销售，不办宽带就不卖手机",
                "办宽带被搭售了{vas}",
            ),
            described=(
                "买手机非要我把宽带一起办了才行",
                "说不开{vas}就不给办卡",
                "想办个宽带，非要我换成{plan}",
                "存话费送手机，结果被捆了{n}年",
                "办副卡必须要升级主套餐，不升不给办",
            ),
            details=(
                "客户只想要最基本的套餐",
                "问了别的营业厅说不需要这样",
                "客户表示这是霸王条款",
                "营业员说这是店里的规定",
            ),
            demands=("要求取消捆绑的业务", "要求退掉多办的东西", "要求给个说法"),
        ),
    ),
    "NET": (
        Case(
            named=(
                "{place}手机信号很差",
                "{place}经常无信号",
                "打电话老是掉线",
                "5G信号覆盖太差，网速慢",
                "最近搬了新家，屋里信号特别弱",
            ),
            described=(
                "在{place}手机一格都没有",
                "打电话说着说着就断了",
                "{place}上网慢得要死，视频都刷不动",
                "5G图标显示着，网页半天打不开",
                "晚上八九点一到网就卡，打游戏延迟好几百",
                "在家要跑到阳台上才能打电话",
                "打电话对方老说听不清我讲话",
                "一进电梯就显示无服务",
                "手机老是从5G跳到4G再跳到没网",
                "{place}的网络太差了，微信消息都发不出去",
            ),
            details=(
                "别人用其他运营商的就没事",
                "换了新手机也一样",
                "以前都挺好的，最近一个月才这样",
                "听说附近拆了个铁塔",
                "客户在{place}上班，经常要接电话",
                "已经重置过网络设置了",
                "周围邻居都是这样",
                "客户说家里两个手机都这样",
                "晚上在家打电话经常听不清",
            ),
        ),
        Case(
            named=(
                "宽带经常断网",
                "家里宽带网速特别慢，达不到签约带宽",
                "家里WiFi动不动就断",
                "办的{speed}宽带，测速才十几兆",
                "光猫上的灯一直闪红",
                "家里网速时快时慢，打视频电话一卡一卡的",
            ),
            described=(
                "家里的网一到晚上就上不去",
                "电视看着看着就转圈圈，孩子上网课老是掉",
                "每天要重启路由器好几次才能用",
            ),
            details=(
                "路由器已经换过新的了",
                "客户在家办公，影响工作",
                "打客服让重启，重启了也没用",
                "晚上高峰期尤其严重",
                "测速截图客户可以提供",
                "光猫也重启过好多次",
                "家里孩子上网课受影响",
            ),
        ),
    ),
    "INS": (
        Case(
            named=(
                "宽带故障报修{days}天了没人处理",
                "预约装机到现在都没人来安装",
                "报修{days}天了还没人上门",
            ),
            described=(
                "约好上午来装宽带，等了一天没人来",
                "师傅来了看一眼说线路有问题就走了，再也没来过",
                "装了三次都没装好",
                "新房子等着通网，一直说没有资源",
                "网络坏了打电话让派人来修，一直说在排单",
                "说好{time}来，打电话问又说今天来不了",
            ),
            details=(
                "客户请了一天假在家等",
                "打师傅电话一直不接",
                "客户家里有老人孩子要用",
                "派单之后就没消息了",
                "客户说已经耽误了{days}天",
                "客户说约了三次都没来",
            ),
        ),
        Case(
            named=(
                "申请移机半个月了还没弄好",
                "移机交了钱到现在还没弄好",
                "师傅上门要收{amt}块钱材料费，之前说是免费的",
            ),
            described=(
                "搬家了要把宽带挪过去，说要排到下个月",
                "新装的网线就从窗户外面随便一拉",
                "修好没两天又坏了",
                "装电视的师傅把墙打了个洞就不管了",
            ),
            details=(
                "客户对施工质量很不满意",
                "师傅说是公司规定",
                "问装维那边说要等资源",
                "客户要求给个准确的上门时间",
                "线就挂在墙外面，很难看",
            ),
        ),
    ),
    "HOT": (
        Case(
            named=(
                "打10086一直转不到人工",
                "10086热线太难接通了",
                "转人工服务要等很久",
                "客服热线一直占线",
                "客服电话打了{n}次都没人接",
                "拨了{n}次10086，每次都听完一大段广告",
            ),
            described=(
                "按了半天键都是机器人在回答",
                "电话排队等了二十多分钟，最后自动挂断了",
                "一打过去就是坐席忙，请稍后再拨",
                "想找个真人说话都找不到",
                "电话打进去一直放音乐，半小时没人理",
                "好不容易接通了又断了，再打又要从头排",
                "语音菜单绕来绕去，就是没有我要的选项",
            ),
            details=(
                "客户用的是老人机，不会用APP",
                "客户称就想问一个简单的问题",
                "客户在外地，只能打电话",
                "晚上打和白天打都一样",
                "客户称手机上显示已经拨了半个多小时",
                "最后只能跑去营业厅问",
            ),
        ),
    ),
    "QUE": (
        Case(
            named=(
                "营业厅排队等候了{mins}分钟",
                "叫号特别慢，等了很久",
                "取号以后一直不叫号",
                "营业厅只开了一个窗口，排了很长的队",
            ),
            described=(
                "在厅里等了一个多小时",
                "取了号前面还有{nn}个人",
                "营业厅就开了一个口子办业务，其他的都空着",
                "办个补卡等了{mins}分钟",
                "周末去办业务，里面人山人海",
                "工作人员在那聊天，号一直不往下走",
                "中午去的说午休，让等到两点",
                "老人在厅里站了一个小时都没轮到",
                "网上预约了也没用，到了还是得等",
                "在{store}从十点等到十二点",
            ),
            details=(
                "里面连个坐的地方都没有",
                "后来的人还插到前面去了",
                "客户请假出来办事，时间都耽误了",
                "问工作人员要等多久也说不准",
                "办业务本身只用了五分钟",
                "窗口的人办一个业务要半小时",
                "前面的人办了好久还在办",
            ),
        ),
    ),
    "HDL": (
        Case(
            named=(
                "各部门互相推诿，没人管",
                "已经重复投诉好几次了，一直没解决",
                "对上次的处理结果不满意",
                "处理超时，一直没有回复",
                "对上次{prev}的处理结果不满意，说法前后不一",
            ),
            described=(
                "上个月反映{prev}的事到现在还没解决",
                "投诉{days}天了一直没人处理",
                "说好的回访一直没有",
                "营业厅让找客服，客服又让去营业厅，来回踢",
                "说好{hours}小时内回复，{days}天了没人联系",
                "每次打过来都要重新说一遍情况",
                "处理的人说这事不归他管",
                "给了{amt}块话费就想打发我",
                "说会有专人回电，一直没等到",
                "这已经是第{n}次反映了",
                "工单显示已经办结了，可问题根本没处理",
                "之前{prev}的问题，客服每次都说已经记录",
            ),
            details=(
                "没有一个人能给个准话",
                "打过去都是说等通知",
                "客户说不想再听到“已经反馈了”这种话",
                "每次接电话的人都不一样",
                "客户称处理人员的电话也打不通",
                "连个回电都没有",
                "客户称已经把情况说了不下五遍",
                "上次说会有经理联系，也没有下文",
            ),
        ),
    ),
    "ATT": (
        Case(
            named=(
                "营业员服务态度恶劣",
                "客服态度很差，很不耐烦",
                "装维师傅态度很差，还出言不逊",
                "客服态度冷漠，爱理不理",
            ),
            described=(
                "营业员爱答不理的，问一句就嫌烦",
                "客服说话很冲，说完直接把电话挂了",
                "上门的师傅进门就抱怨，还在屋里抽烟",
                "问了两遍就被吼了",
                "工作人员一直在玩手机，不搭理人",
                "说我年纪大听不懂就别办了",
                "客服阴阳怪气的，听着就来气",
                "营业员当着其他客户的面说我事多",
                "师傅嫌我家楼层高，嘴里一直骂骂咧咧",
                "客服接电话的口气像是我欠他钱",
            ),
            details=(
                "客户要求对方道歉",
                "客户记下了工号",
                "当时厅里很多人都看到了",
                "客户称从来没被这么对待过",
                "通话录音可以证明",
                "客户称当时只是问了一句什么时候能办好",
            ),
        ),
    ),
    "CHG": (
        Case(
            named=(
                "想变更套餐营业厅不给改",
                "申请降档被拒绝",
                "{vas}退订不了",
                "退订{vas}的时候一直被挽留，就是不给退",
            ),
            described=(
                "想把套餐换成便宜点的，说只能升不能降",
                "想从{plan}换成{fee}元的，一直说办不了",
                "网上说可以直接换，来营业厅又说不行",
                "想把副卡取消掉，要求本人带身份证去开户地",
            ),
            details=(
                "客户已经明确说了不要任何优惠",
                "客服一直推荐其他套餐",
                "客户称这是故意设卡",
                "客服反复让客户再考虑一下",
            ),
        ),
        Case(
            named=(
                "申请携号转网一直被设置障碍",
                "办理销户说要回开户地",
                "想过户手续太麻烦",
            ),
            described=(
                "号码不想用了要注销，说要回开户的地方办",
                "要把宽带停掉，说要先交钱才能拆",
                "想把号码转到爱人名下，要准备一大堆材料",
                "想换个运营商但号码不变，一直提示不符合条件",
                "查询能不能换运营商，说有未到期的合约",
                "停机保号说不能办，只能一直交月租",
            ),
            details=(
                "客户人在外地，回不去",
                "营业员说是系统限制",
                "客户称已经跑了{n}趟营业厅",
                "每次去说的要求都不一样",
                "客户说网上根本查不到要带哪些材料",
            ),
        ),
    ),
    "SEC": (
        Case(
            named=(
                "每天都收到很多垃圾短信",
                "骚扰电话一天好几个",
                "接到诈骗电话，对方知道我的个人信息",
                "个人信息被泄露了",
            ),
            described=(
                "天天接到推销电话，一天好几个",
                "收到一条说医保卡异常的短信，差点被骗",
                "刚办完宽带就有人打电话来推销，连我名字和地址都知道",
                "半夜三更收到贷款广告",
                "有人冒充客服让我点链接退款",
                "每天十几条卖房卖保险的短信，退订了也没用",
                "对方能准确说出我的套餐和身份证后四位",
            ),
            details=(
                "客户怀疑是内部人员把资料卖了",
                "已经设置了屏蔽也没用",
                "影响正常工作和休息",
                "客户家里老人差点上当",
                "其中一个打来的号码是{phone}",
                "对方一开口就叫出了客户的全名",
            ),
            demands=("要求查明信息怎么泄露的", "要求处理", "要求采取措施拦截", "要求给个说法"),
        ),
        Case(
            named=(
                "手机号突然被停了，说是涉嫌诈骗",
                "号码被误封了，打不出去电话",
            ),
            described=(
                "号码被别人拿去注册了东西",
                "我的号被标记成了快递外卖，打出去别人都不接",
                "平时正常打电话，突然被限制呼出",
                "说我的号码需要重新核验身份，不然就停机",
            ),
            details=(
                "客户做销售的，每天要打很多电话",
                "客户已经带身份证去营业厅核验过",
                "客户称从来没有用这个号做过违规的事",
            ),
            demands=("要求恢复号码", "要求取消标记", "要求说明停机原因"),
        ),
    ),
    "VAS": (
        Case(
            named=(
                "机顶盒经常死机",
                "合约买的{brand}手机用了一个月就黑屏，终端质量太差",
            ),
            described=(
                "合约买的{brand}手机用了一个月就黑屏",
                "电视盒子老是死机，遥控器没反应",
                "送的路由器没用几天就坏了",
            ),
            details=(
                "去售后说要等一个月",
                "师傅来看过说是硬件问题",
                "刚过了退换期就出问题",
            ),
            demands=("要求换新", "要求修好", "要求退钱"),
        ),
        Case(
            named=(
                "视频彩铃设置了不生效",
                "视频彩铃设置好了，别人打来还是听不到",
                "APP登录不上，一直提示系统繁忙",
            ),
            described=(
                "手机营业厅登不上，一直提示系统繁忙",
                "领的{vas}打开就报错，用不了",
                "云盘里的照片突然全没了",
            ),
            details=(
                "客户称已经卸载重装过",
                "客服说这个不归他们管",
                "换了手机登录也一样",
            ),
            demands=("要求修好", "要求退钱", "要求给个解决时间"),
        ),
        Case(
            named=(
                "积分兑换一直失败",
                "积分换的东西一直没发货",
                "话费积分快过期了，换东西的页面一直打不开",
            ),
            described=(
                "兑换的视频会员券显示已使用，可我一次都没用过",
            ),
            details=(
                "客服说要等系统恢复",
                "客户称攒了好几年",
            ),
            demands=("要求补发", "要求延长有效期"),
        ),
    ),
    "OTH": (
        Case(
            named=(),
            described=(
                "想问下营业厅晚上几点关门",
                "建议出个专门给老年人用的便宜套餐",
                "营业厅门口不好停车，希望能改善",
                "开的发票抬头写错了，要求重开",
                "想咨询一下出国前要办什么手续",
                "希望每个月能寄纸质的明细",
                "客户对手机营业厅的界面设计提意见，字太小",
                "想问下家里老人能不能办个亲情号",
            ),
            details=(
                "客户表示只是提个建议",
                "客户态度平和",
                "已给客户解释",
            ),
        ),
    ),
}

# The level-2 category (data/taxonomy/telecom.yaml) each sub-case of CASES is written for, in
# CASES' order; categories without children have none.
SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "BIL": ("BIL.UNKNOWN", "BIL.DATA", "BIL.REFUND", "BIL.PLAN"),
    "MIS": ("MIS.UNAUTH", "MIS.EXAGGERATED", "MIS.CONTRACT", "MIS.BUNDLE"),
    "NET": ("NET.MOBILE", "NET.BROADBAND"),
}

# Share of orders whose core names the problem the way the taxonomy does; the rest describe it.
NAMED_SHARE = 0.6
# Categories of enquiries and suggestions rather than grievances.
ENQUIRIES = ("OTH",)

# Very short orders (< 15 characters) as agents type them on a busy day.
SHORT: dict[str, tuple[str, ...]] = {
    "BIL": ("乱扣费", "话费不对", "扣了{amt}块钱？", "为什么多收我钱", "账单有问题", "充值没到账"),
    "MIS": ("没办过的业务在扣钱", "被开通{vas}", "不知道谁给我开的", "说的送流量没送"),
    "NET": ("没信号", "网太慢了！！", "家里断网", "电话老是断", "上不了网"),
    "INS": ("报修没人来", "装宽带一直没人来", "师傅不上门"),
    "HOT": ("10086打不通", "转不了人工", "客服电话没人接"),
    "QUE": ("排队太久", "在厅里等了一小时", "叫号太慢"),
    "HDL": ("投诉了没人管", "一直没人回电话", "说好的回复呢", "踢皮球"),
    "ATT": ("营业员态度差", "客服挂我电话", "师傅骂人"),
    "CHG": ("销户办不了", "套餐降不了", "转网被卡"),
    "SEC": ("骚扰电话太多", "天天推销短信", "号码被停了"),
    "VAS": ("机顶盒坏了", "APP登不上", "彩铃没用"),
    "OTH": ("咨询营业时间", "发票开错了"),
}

# A passing mention of another category's problem, so some orders mix two categories.
ASIDES: dict[str, tuple[str, ...]] = {
    "BIL": ("还多扣了{amt}块钱", "话费也不对", "这个月账单也多了一截"),
    "MIS": ("还被莫名开了个{vas}", "当初办的时候说的也不是这样"),
    "NET": ("平时信号也不好", "家里网也老断"),
    "INS": ("报修了也没人上门", "叫师傅来看也不来"),
    "HOT": ("打10086半天也没打进去", "客服电话一直占线", "想打电话问也找不到人工"),
    "QUE": ("去营业厅又排了一个小时队", "去厅里等了半天"),
    "HDL": ("之前反映过也没人管", "上次说回电也没回"),
    "ATT": ("工作人员态度也很差", "服务人员还很不耐烦", "问了也没人搭理"),
    "CHG": ("想换个套餐都换不了", "想销号又不给销"),
    "SEC": ("最近还老接到推销电话", "信息也不知道被谁拿去了"),
    "VAS": ("手机营业厅也老是登不上", "积分也用不了"),
}
MIXES = {
    "BIL": ("HOT", "MIS", "ATT"), "MIS": ("BIL", "ATT", "HOT"), "NET": ("INS", "HDL", "HOT"),
    "INS": ("ATT", "HOT"), "HOT": ("BIL", "HDL"), "QUE": ("ATT", "CHG"), "HDL": ("ATT", "HOT", "BIL"),
    "ATT": ("QUE", "HOT"), "CHG": ("MIS", "ATT", "QUE"), "SEC": ("HOT",), "VAS": ("BIL", "HOT"),
}

# The second problem of a multi-issue billing dispute: rudeness met while disputing the bill.
MULTI_ISSUE_CLAUSES = (
    "另外客户去营业厅问这笔扣费，营业员态度很差，爱答不理",
    "客户打客服问扣费的事，客服态度恶劣，没说两句就把电话挂了",
    "去厅里问账单的时候工作人员很不耐烦，还冲客户发脾气",
    "客户说打电话问这笔钱，客服说话阴阳怪气，服务态度极差",
    "问了几次扣费的事，营业员直接甩脸色，说爱办不办",
    "客服解释不清还嫌客户烦，态度很差，要求对这个客服进行处理",
    "打客服核实扣费时被客服吼了一顿，客户觉得受到了侮辱",
    "营业厅的人听说是来问扣费的就不耐烦，说话很冲",
)

OPENERS = {
    "热线": ("客户来电反映：", "用户来电称", "客户致电投诉，", "机主来电表示", "客户来电：", "用户反映"),
    "营业厅": ("客户到厅投诉：", "客户在厅反映", "用户到营业厅称", "厅内客户反映："),
    "APP": ("APP在线留言：", "用户在APP反馈：", "在线客服记录：用户称"),
    "网厅": ("网厅留言：", "网上营业厅留言：", "用户网上留言称"),
    "工信部转办": ("工信部转办：用户申诉称", "工信部转办件，客户称", "申诉转办：用户反映"),
}
# Demands for sub-cases without their own.
DEMANDS = {
    "BIL": ("要求退费", "要求把多扣的钱退回来", "要求把账单一项一项说清楚", "要求退还并赔偿"),
    "NET": ("要求尽快解决", "要求减免这几个月的月租", "要求派人来看看", "要求给个解决时间"),
    "INS": ("要求今天必须上门", "要求给个准确时间", "要求赔偿误工费"),
    "HOT": ("要求回电", "希望增加人工坐席", "要求给个能打通的电话"),
    "QUE": ("希望多开几个窗口", "要求给个说法", "希望改进"),
    "HDL": ("要求升级处理", "要求有个负责人出来说话", "要求给个书面答复", "要求马上处理"),
    "ATT": ("要求道歉", "要求处理这个员工", "要求给个说法"),
    "CHG": ("要求马上办理", "要求取消限制", "要求给个明确答复"),
    "OTH": ("请回复", "希望采纳"),
}
GENERIC_DEMANDS = ("要求尽快处理", "要求给个说法", "请尽快联系客户", "希望尽快解决", "要求回电")
EMOTIONS = ("非常不满", "很气愤", "真的服了", "太坑了", "客户情绪激动", "客户情绪较大", "说了好多次了",
            "实在受不了了", "真的很无语", "心里很不舒服")
COLLOQUIAL = ("咋回事啊", "搞啥呢", "真的服了", "我也是醉了", "太离谱了", "气死了", "什么玩意儿",
              "你们到底管不管", "这叫什么事啊")
ESCALATIONS = ("再不解决就去工信部投诉", "不行就打12300", "准备找315曝光", "要找媒体曝光", "要向工信部申诉",
               "已经在准备材料去消协", "说要打12315和12300", "不处理就上网发帖曝光")
REPEAT_MENTIONS = ("这已经是第{n}次反映了", "上次反映过没解决", "之前打过好几次电话了", "上周刚说过这事")
TAILS = ("已安抚", "已安抚客户情绪，请核实处理", "请相关部门核实处理", "请尽快回复客户", "已致歉，请跟进",
         "客户要求24小时内回复", "请处理，谢谢", "已解释，客户不认可", "已登记", "请派单处理")
PHONE_MENTIONS = ("联系电话{phone}", "机主号码{phone}", "回访请打{phone}", "客户号码{phone}")
BACKGROUNDS = (
    "客户是十几年的老用户了", "客户说家里老人也在用这个号", "客户称平时工作很忙，没空一趟趟跑",
    "客户表示一直都很支持你们", "客户是做生意的，电话对他很重要", "客户年纪比较大，不太会用手机",
    "客户说孩子在外地上学，全靠这个号联系", "客户{date}就发现了这个情况", "客户本来想自己解决，实在没办法才来反映",
)
# What the customer already tried; long orders tell the story.
ACTIONS = (
    "客户{date}去营业厅问过，说是系统的问题，让回家等通知", "后来又打了客服，客服说会帮忙反馈",
    "客户在网上查了一下，好多人都遇到过", "营业员让客户自己在APP上操作，弄了半天也不行",
    "客户之前在APP上留过言，一直没人回", "当时客服说已经帮忙登记了", "客户让家里孩子帮忙看过，也没弄明白",
    "客户说前两天已经打过一次电话，对方让再等等", "客户找了认识的人打听，说这种情况很常见",
)
# Long orders keep going with asides and repetitions the way real agents write them down.
LONG_FILLERS = (
    "客户反复强调自己没有做错任何事情", "客户说身边好几个朋友都遇到过类似的情况",
    "客户表示如果再这样下去就考虑换运营商", "客户说这件事已经影响到他的正常生活",
    "客户提到之前的服务一直还可以，这次实在太失望", "客户要求这次必须有个明确的结果",
    "客户讲了很长时间，情绪一直比较激动", "客户希望公司能重视这个问题，不要再敷衍",
    "客户说自己已经把情况截图保存，随时可以提供", "客户称前前后后已经花了很多时间在这件事上",
    "客户还说家里人也对这事很有意见", "客户表示要求不高，只要把事情办好就行",
    "客户说当初选你们就是图个放心", "客户表示自己每个月按时交钱，从来没拖欠过",
    "客户说同事都劝他直接换号算了", "客户提到自己专门请了半天假来处理这件事",
    "客户称网上也有很多人在说这个事", "客户说自己不是故意找麻烦，就是想要个公道",
    "客户一再追问到底什么时候能解决", "客户说之前每次都是好言好语地沟通",
)
# Rare misspellings and homophones that real work orders contain.
TYPOS = (("信号", "信好"), ("扣费", "扣废"), ("营业厅", "营业听"), ("宽带", "宽代"), ("流量", "流两"),
         ("态度", "太度"), ("退费", "退废"), ("骚扰", "扫扰"), ("套餐", "套参"), ("号码", "号马"))

PLANS = ("5G畅享套餐", "59元套餐", "88元套餐", "128元5G套餐", "全家享套餐", "139元融合套餐", "全球通套餐",
         "动感地带套餐", "19元保号套餐", "5G智享套餐", "198元融合套餐", "校园卡套餐")
SERVICES = ("视频彩铃", "咪咕视频会员", "咪咕音乐包", "彩铃", "10元流量包", "来电提醒", "云盘会员", "手机报",
            "游戏包", "视频会员", "爱奇艺联合会员", "彩印", "5G加速包")
PLACES = ("小区里", "地下室", "高铁上", "电梯里", "家里卧室", "公司", "地下车库", "学校宿舍", "老家村里",
          "出租屋", "商场负一楼", "新房子里", "单位办公室", "高速上")
BRANDS = ("华为", "小米", "苹果", "OPPO", "vivo", "荣耀")
STORES = ("解放路营业厅", "万达旁边的营业厅", "县城的营业厅", "火车站边上的营业厅", "中山路的厅", "人民路营业厅")
PREVIOUS_ISSUES = ("宽带断网", "乱扣费", "信号不好", "被乱开业务", "退费", "装机", "携号转网", "话费返还", "骚扰电话")


class _Slots(dict):
    """Fills template slots on first use, so one text reuses one value per slot."""

    def __init__(self, rng: random.Random, created: datetime):
        super().__init__()
        self._rng = rng
        self._created = created

    def __missing__(self, slot: str) -> str:
        rng = self._rng
        if slot == "month":
            value = f"{self._created.month - rng.choice((0, 0, 1))}月"
        elif slot == "date":
            # A day the customer refers to lies before the order was taken.
            earlier = self._created - timedelta(days=rng.randint(1, 40))
            value = f"{earlier.month}月{earlier.day}{rng.choice('号日')}"
        else:
            value = {
                "amt": lambda: rng.choice(("3", "5", "6", "8", "9.9", "10", "12", "15", "18", "19.9", "20", "25",
                                           "28", "30", "36", "40", "50")),
                "fee": lambda: rng.choice(("19", "29", "38", "39", "58", "59", "68", "88", "98", "128", "158", "199")),
                # Whole tens, so no amount reads as the 315 consumer hotline.
                "bill": lambda: str(rng.randint(12, 89) * 10),
                "big": lambda: rng.choice(("200", "300", "480", "500", "600", "800", "1000", "1200", "1500")),
                "n": lambda: str(rng.randint(2, 6)),
                "nn": lambda: str(rng.randint(15, 60)),
                "mins": lambda: rng.choice(("20", "30", "40", "45", "50", "60", "80", "90", "100", "120")),
                "days": lambda: str(rng.randint(2, 20)),
                "hours": lambda: rng.choice(("24", "48", "72")),
                "gb": lambda: rng.choice(("5", "10", "20", "30", "40", "50", "100")),
                "speed": lambda: rng.choice(("100M", "200M", "300M", "500M", "千兆")),
                "time": lambda: rng.choice(("上午", "下午", "九点", "两点", "周六")),
                "phone": lambda: f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
                "plan": lambda: rng.choice(PLANS),
                "vas": lambda: rng.choice(SERVICES),
                "place": lambda: rng.choice(PLACES),
                "brand": lambda: rng.choice(BRANDS),
                "store": lambda: rng.choice(STORES),
                "prev": lambda: rng.choice(PREVIOUS_ISSUES),
            }[slot]()
        self[slot] = value
        return value


@dataclass(frozen=True)
class TextSpec:
    """What a text has to agree with: its category and the work order's other fields."""
    category: str
    channel: str
    created: datetime
    repeat: bool
    mentions_escalation: bool


def compose_text(spec: TextSpec, rng: random.Random) -> str:
    """One work-order text: very short (~5%), long and rambling (~15%) or ordinary."""
    return compose(spec, rng)[0]


def compose(spec: TextSpec, rng: random.Random) -> tuple[str, str]:
    """(a work-order text as :func:`compose_text` writes it, the level-2 category of the
    sub-case it was written from: ``""`` for categories without children and for the very
    short orders, which name no sub-case)."""
    slots = _Slots(rng, spec.created)
    style = rng.random()
    if style < 0.04:  # plus ordinary orders that happen to come out short: about 5% in all
        return rng.choice(SHORT[spec.category]).format_map(slots), ""
    # Enquiries and suggestions are calm and brief: no emotion, no threats, no long story.
    enquiry = spec.category in ENQUIRIES
    long = style >= 0.85 and not enquiry
    case = rng.choice(CASES[spec.category])
    children = SUBCATEGORIES.get(spec.category)
    subcategory = children[CASES[spec.category].index(case)] if children else ""
    named = case.named and rng.random() < NAMED_SHARE

    clauses = []
    if long and rng.random() < 0.8:
        clauses += rng.sample(BACKGROUNDS, rng.randint(1, 2))
    clauses.append(rng.choice(case.named if named else case.described))
    if long:
        clauses += rng.sample(case.details, min(len(case.details), rng.randint(2, 4)))
        clauses += rng.sample(ACTIONS, rng.randint(1, 2))
    elif rng.random() < 0.45:
        clauses.append(rng.choice(case.details))
    if spec.category in MIXES and rng.random() < (0.5 if long else 0.12):
        clauses.append(rng.choice(ASIDES[rng.choice(MIXES[spec.category])]))
    if spec.repeat and rng.random() < 0.5:
        clauses.append(rng.choice(REPEAT_MENTIONS))
    if not enquiry and rng.random() < 0.15:
        clauses.append(rng.choice(COLLOQUIAL))
    ending = []
    if not enquiry and rng.random() < (0.6 if long else 0.3):
        ending.append(rng.choice(EMOTIONS))
    if rng.random() < (0.9 if long else 0.55):
        demands = case.demands or DEMANDS[spec.category]
        ending.append(rng.choice(demands if rng.random() < 0.7 else GENERIC_DEMANDS))
    if spec.mentions_escalation:
        ending.append(rng.choice(ESCALATIONS))
    if rng.random() < 0.08:
        ending.append(rng.choice(PHONE_MENTIONS))
    if rng.random() < (0.7 if long else 0.3):
        ending.append(rng.choice(TAILS))
    if long:
        # Most long orders run 150-250 characters, a few ramble on towards 400.
        target = 150 + int(rng.random() ** 2 * 230)
        for filler in rng.sample(LONG_FILLERS, len(LONG_FILLERS)):
            # Separators counted, and room left for an opener and the closing punctuation.
            length = len("".join(clauses + ending).format_map(slots)) + len(clauses) + len(ending)
            if length >= target or length + len(filler) > 380:
                break
            clauses.append(filler)
    clauses += ending

    body = clauses[0]
    for clause in clauses[1:]:
        body += rng.choices(("，", "。", "！", "；"), weights=(14, 5, 1, 0.3))[0] + clause
    body += rng.choices(("。", "！", "", "！！！", "？？", "。。。"), weights=(10, 3, 4, 1, 1, 1))[0]
    if rng.random() < (0.95 if spec.channel == "工信部转办" else 0.65):
        body = rng.choice(OPENERS[spec.channel]) + body
    text = body.format_map(slots)
    if rng.random() < 0.05:
        for right, wrong in TYPOS:
            if right in text:
                text = text.replace(right, wrong, 1)
                break
    if rng.random() < 0.04:
        text = text.replace("，", ",")
    return text, subcategory


# ---------------------------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------------------------


def _period_days() -> list[date]:
    return [PERIOD_START + timedelta(days=i) for i in range((PERIOD_END - PERIOD_START).days + 1)]


def growth_multiplier(day: date) -> float:
    """Daily rate of the growing category relative to before the window: a linear ramp to the peak."""
    if day < GROWTH_START:
        return 1.0
    progress = (day - GROWTH_START).days / (PERIOD_END - GROWTH_START).days
    return 1.0 + (GROWTH_PEAK - 1.0) * progress


def _draw_times(rng: np.random.Generator, count: int, day_weights: np.ndarray,
                hour_weights: np.ndarray = HOUR_WEIGHTS) -> list[datetime]:
    days = _period_days()
    day_index = rng.choice(len(days), size=count, p=day_weights / day_weights.sum())
    hours = rng.choice(24, size=count, p=hour_weights / hour_weights.sum())
    seconds = rng.integers(0, 3600, size=count)
    return [datetime.combine(days[d], datetime.min.time()) + timedelta(hours=int(h), seconds=int(s))
            for d, h, s in zip(day_index, hours, seconds)]


def _fmt(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime(TIME_FORMAT)


def _customer_ids(rng: np.random.Generator, count: int) -> list[str]:
    numbers = rng.choice(9_000_000, size=count, replace=False) + 1_000_000
    return [f"C{number:07d}" for number in numbers]


def add_second_issue(text: str, clause: str, limit: int = 400) -> str:
    """``text`` with ``clause`` told after it as one more sentence; long orders give up a filler
    sentence or two to stay within ``limit`` characters."""
    for filler in LONG_FILLERS:
        if len(text) + len(clause) + 2 <= limit:
            break
        text = re.sub(r"[，。！；,]" + re.escape(filler), "", text, count=1)
    if text and text[-1] not in "。！？":
        text += "。"
    return text + clause + "。"


def _change_month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _mix_wave(rows: list[dict], rng: np.random.Generator, text_rng: random.Random) -> None:
    """Turn October orders of the donor categories into orders of MIX_CATEGORY, so that its
    October volume is MIX_FACTOR times what it was; every other draw stays as it was."""
    month = CHANGE_PERIODS[1]
    in_month = [row for row in rows if _change_month(row["created"]) == month]
    own = sum(row["category"] == MIX_CATEGORY for row in in_month)
    donors = [row for row in in_month
              if row["category"] in MIX_DONORS and not row["repeat"] and not row["referenced"]]
    extra = min(len(donors), round((MIX_FACTOR - 1.0) * own))
    for index in sorted(rng.choice(len(donors), size=extra, replace=False)):
        row = donors[int(index)]
        row["category"] = MIX_CATEGORY
        confusions = AGENT_CONFUSIONS[MIX_CATEGORY]
        row["agent_label"] = (confusions[int(rng.integers(len(confusions)))] if rng.random() < AGENT_NOISE
                              else MIX_CATEGORY)
        escalates = bool(rng.random() < ESCALATION_MENTION.get(MIX_CATEGORY, DEFAULT_ESCALATION_MENTION))
        row["text"], row["subcategory"] = compose(
            TextSpec(MIX_CATEGORY, row["channel"], row["created"], False, escalates), text_rng)


def _multi_issue(rows: list[dict], rng: np.random.Generator, text_rng: random.Random) -> None:
    """Give MULTI_ISSUE_SHARE of the MULTI_ISSUE_CATEGORY orders a second problem, told in the text;
    an agent files such an order under either of its problems."""
    for row in rows:
        if row["category"] == MULTI_ISSUE_CATEGORY and rng.random() < MULTI_ISSUE_SHARE:
            row["categories"] = (MULTI_ISSUE_CATEGORY, MULTI_ISSUE_SECOND)
            row["text"] = add_second_issue(row["text"], text_rng.choice(MULTI_ISSUE_CLAUSES))
            if rng.random() < MULTI_ISSUE_AGENT_SECOND:
                row["agent_label"] = MULTI_ISSUE_SECOND


def _complaints(rng: np.random.Generator, text_rng: random.Random, n: int, seed: int = DEFAULT_SEED) -> list[dict]:
    counts = rng.multinomial(n, np.array([CATEGORY_MIX[c] for c in CODES]))
    weekday = np.array([WEEKDAY_WEIGHTS[d.weekday()] for d in _period_days()])
    growth = np.array([growth_multiplier(d) for d in _period_days()])
    rows = []
    for code, count in zip(CODES, counts):
        day_weights = weekday * growth if code == GROWTH_CATEGORY else weekday
        channels = rng.choice(len(CHANNELS), size=count, p=CHANNEL_WEIGHTS.get(code, CHANNEL_WEIGHTS["default"]))
        for index, channel in enumerate(CHANNELS):
            # Stores take complaints only while they are open.
            hour_weights = STORE_HOUR_WEIGHTS if channel == "营业厅" else HOUR_WEIGHTS
            times = _draw_times(rng, int((channels == index).sum()), day_weights, hour_weights)
            rows += [{"category": code, "channel": channel, "created": t} for t in times]
    # Sorting by time (then category and channel, for equal timestamps) fixes the order independently of the draw.
    rows.sort(key=lambda row: (row["created"], row["category"], row["channel"]))

    customers = _customer_ids(rng, n)
    earlier_by_category: dict[str, list[dict]] = {code: [] for code in CODES}
    month_sequence: dict[str, int] = {}
    for row, customer in zip(rows, customers):
        code = row["category"]
        month = row["created"].strftime("%Y%m")
        month_sequence[month] = month_sequence.get(month, 0) + 1
        row["ticket"] = f"GD{month}{month_sequence[month]:05d}"
        row["repeat"] = bool(rng.random() < REPEAT_RATE.get(code, DEFAULT_REPEAT_RATE))
        row["referenced"] = False
        earlier = earlier_by_category[code]
        if row["repeat"] and earlier:
            # A repeat complaint comes from someone who complained about the same thing before.
            previous = earlier[int(rng.integers(max(0, len(earlier) - 40), len(earlier)))]
            row.update(customer=previous["customer"], province=previous["province"], segment=previous["segment"])
            previous["referenced"] = True
        else:
            row["customer"] = customer
            row["province"] = PROVINCES[rng.choice(len(PROVINCES), p=PROVINCE_WEIGHTS)]
            segment_weights = SEGMENT_WEIGHTS.get(code, SEGMENT_WEIGHTS["default"])
            row["segment"] = SEGMENTS[rng.choice(len(SEGMENTS), p=segment_weights)]
        earlier.append(row)

        response_h = rng.lognormal(np.log(RESPONSE_MEDIAN_H.get(code, DEFAULT_RESPONSE_MEDIAN_H)), TIME_SIGMA)
        resolution_h = rng.lognormal(np.log(RESOLUTION_MEDIAN_H.get(code, DEFAULT_RESOLUTION_MEDIAN_H)), TIME_SIGMA)
        never_responded = rng.random() < NEVER_RESPONDED
        stuck = rng.random() < STUCK_OPEN.get(code, DEFAULT_STUCK_OPEN)
        responded = row["created"] + timedelta(seconds=int(response_h * 3600) + 60)
        resolved = responded + timedelta(seconds=int(resolution_h * 3600))
        row["responded"] = None if never_responded or responded >= SNAPSHOT else responded
        row["resolved"] = None if row["responded"] is None or stuck or resolved >= SNAPSHOT else resolved

        label = code
        if rng.random() < AGENT_NOISE:
            others = [c for c in CODES if c != code]
            label = (AGENT_CONFUSIONS[code][int(rng.integers(len(AGENT_CONFUSIONS[code])))]
                     if rng.random() < 0.6 else others[int(rng.integers(len(others)))])
        row["agent_label"] = label
        escalates = rng.random() < ESCALATION_MENTION.get(code, DEFAULT_ESCALATION_MENTION)
        row["text"], row["subcategory"] = compose(
            TextSpec(code, row["channel"], row["created"], row["repeat"], escalates), text_rng)

    # The planted multi-issue orders and the October change draw from their own generators, so
    # that every other order, and every survey answer's noise, comes out as without them.
    planted_rng, planted_text_rng = np.random.default_rng([seed, 13]), random.Random(f"{seed}/planted")
    _mix_wave(rows, planted_rng, planted_text_rng)
    for row in rows:
        row["categories"] = (row["category"],)
    _multi_issue(rows, planted_rng, planted_text_rng)
    return rows


def _latent_satisfaction(rng: np.random.Generator, complaint: dict | None, surveyed: datetime | None = None) -> float:
    """Baseline minus the drop of each of the complaint's categories (they add up), the repeat
    penalty and, for RATE_CATEGORY complainants answering in CHANGE_PERIODS[1], RATE_DROP."""
    drop = 0.0
    if complaint is not None:
        drop = sum(CSAT_DROP[code] for code in complaint["categories"])
        drop += REPEAT_PENALTY if complaint["repeat"] else 0.0
        if complaint["category"] == RATE_CATEGORY and surveyed is not None \
                and _change_month(surveyed) == CHANGE_PERIODS[1]:
            drop += RATE_DROP
    return CSAT_BASELINE - drop + rng.normal(0.0, PERSON_SD)


def _scores(rng: np.random.Generator, latent: float) -> tuple[int, int]:
    csat = int(np.clip(np.rint(latent + rng.normal(0.0, CSAT_SD)), 1, 5))
    nps = int(np.clip(np.rint(NPS_INTERCEPT + NPS_SLOPE * (latent - CSAT_BASELINE) + rng.normal(0.0, NPS_SD)), 0, 10))
    return csat, nps


def _surveys(rng: np.random.Generator, complaints: list[dict], n_no_complaint: int) -> list[dict]:
    rows = []
    for complaint in complaints:
        if rng.random() >= SURVEY_RATE:
            continue
        # Surveys go out a few days after the ticket closes (or after creation for open ones).
        after = complaint["resolved"] or complaint["created"] + timedelta(days=3)
        surveyed = after + timedelta(seconds=int(rng.uniform(0.5, 3.0) * 86400))
        if surveyed >= SNAPSHOT:
            continue
        touchpoint = "装维" if complaint["category"] == "INS" else TOUCHPOINT_BY_CHANNEL[complaint["channel"]]
        csat, nps = _scores(rng, _latent_satisfaction(rng, complaint, surveyed))
        rows.append({"ticket": complaint["ticket"], "customer": complaint["customer"], "touchpoint": touchpoint,
                     "time": surveyed, "csat": csat, "nps": nps})

    complainants = {c["customer"] for c in complaints}
    candidates = _customer_ids(rng, n_no_complaint + len(complainants))
    customers = [c for c in candidates if c not in complainants][:n_no_complaint]
    times = _draw_times(rng, n_no_complaint, np.ones(len(_period_days())))
    for customer, surveyed in zip(customers, times):
        touchpoint = TOUCHPOINTS[rng.choice(len(TOUCHPOINTS), p=NO_COMPLAINT_TOUCHPOINT_WEIGHTS)]
        csat, nps = _scores(rng, _latent_satisfaction(rng, None))
        rows.append({"ticket": "", "customer": customer, "touchpoint": touchpoint, "time": surveyed,
                     "csat": csat, "nps": nps})
    rows.sort(key=lambda row: (row["time"], row["customer"]))
    for number, row in enumerate(rows, start=1):
        row["id"] = f"WJ{number:07d}"
    return rows


# ---------------------------------------------------------------------------------------------
# Files.
# ---------------------------------------------------------------------------------------------


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    # BOM so Excel shows the Chinese; "\n" so the bytes are the same on every platform.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def planted_effects(seed: int, n_complaints: int) -> dict:
    """The machine-readable description of what the generator planted (planted_effects.yaml)."""
    order = sorted(CODES, key=lambda code: -CSAT_DROP[code])
    return {
        "synthetic": True,
        "generator": "python -m tousu.demo.data",
        "seed": seed,
        "n_complaints": n_complaints,
        "period": {"start": PERIOD_START.isoformat(), "end": PERIOD_END.isoformat(), "snapshot": _fmt(SNAPSHOT)},
        "csat": {
            "scale": [1, 5],
            "baseline_no_complaint": CSAT_BASELINE,
            "drop_by_category": {code: CSAT_DROP[code] for code in order},
            "repeat_penalty": REPEAT_PENALTY,
            "person_sd": PERSON_SD,
            "answer_sd": CSAT_SD,
            "order_by_drop": order,
            "strong_vs_weak_pairs": [list(pair) for pair in STRONG_VS_WEAK],
            "note": "latent = baseline - sum of the drops of the complaint's categories - repeat_penalty*repeat "
                    "(- change.rate.latent_drop, see there) + N(0, person_sd); "
                    "CSAT = clip(round(latent + N(0, answer_sd)), 1, 5)",
        },
        "nps": {
            "scale": [0, 10], "intercept": NPS_INTERCEPT, "slope": NPS_SLOPE, "sd": NPS_SD,
            "note": "NPS = clip(round(intercept + slope*(latent - baseline) + N(0, sd)), 0, 10)",
        },
        "growth": {
            "category": GROWTH_CATEGORY,
            "window_start": GROWTH_START.isoformat(),
            "window_end": PERIOD_END.isoformat(),
            "peak_multiplier": GROWTH_PEAK,
            "note": "daily rate ramps linearly from 1x at window_start to peak_multiplier at window_end",
        },
        "multi_issue": {
            "category": MULTI_ISSUE_CATEGORY,
            "second_category": MULTI_ISSUE_SECOND,
            "share": MULTI_ISSUE_SHARE,
            "truth_column": "true_categories",
            "csat_drop": round(CSAT_DROP[MULTI_ISSUE_CATEGORY] + CSAT_DROP[MULTI_ISSUE_SECOND], 2),
            "agent_label_second_share": MULTI_ISSUE_AGENT_SECOND,
            "note": f"this share of the {MULTI_ISSUE_CATEGORY} orders also met rudeness ({MULTI_ISSUE_SECOND}) while "
                    f"disputing the bill: the text states both problems, true_categories lists both "
                    f"({MULTI_ISSUE_CATEGORY}|{MULTI_ISSUE_SECOND}; true_category stays {MULTI_ISSUE_CATEGORY}), "
                    "and the latent drops add up: drop(BIL) + drop(ATT); the agent (人工分类) files "
                    "agent_label_second_share of them under the second problem",
        },
        "change": {
            "periods": list(CHANGE_PERIODS),
            "freq": "M",
            "period_of_an_answer": "the survey's own date (调查时间)",
            "mix": {
                "segment": MIX_CATEGORY,
                "kind": "mix",
                "volume_factor": MIX_FACTOR,
                "replaces_orders_of": list(MIX_DONORS),
                "note": f"{MIX_CATEGORY} orders created in {CHANGE_PERIODS[1]} are {MIX_FACTOR:g}x what they would "
                        "have been (the extra ones replace October orders of the listed categories, so the total stays); "
                        "its share of the respondents grows at its usual, low score: a negative mix effect",
            },
            "rate": {
                "segment": RATE_CATEGORY,
                "kind": "rate",
                "latent_drop": RATE_DROP,
                "note": f"{RATE_CATEGORY} complainants whose survey falls in {CHANGE_PERIODS[1]} have their latent "
                        f"satisfaction lowered by a further {RATE_DROP:g} (its share unchanged): "
                        "a negative rate effect",
            },
        },
        "category_mix": dict(CATEGORY_MIX),
        "repeat_rate": {code: REPEAT_RATE.get(code, DEFAULT_REPEAT_RATE) for code in CODES},
        "response_median_hours": {code: RESPONSE_MEDIAN_H.get(code, DEFAULT_RESPONSE_MEDIAN_H) for code in CODES},
        "resolution_median_hours": {code: RESOLUTION_MEDIAN_H.get(code, DEFAULT_RESOLUTION_MEDIAN_H)
                                    for code in CODES},
        "escalation_mention_rate": {code: ESCALATION_MENTION.get(code, DEFAULT_ESCALATION_MENTION) for code in CODES},
        "miit_transfer_share": {code: CHANNEL_WEIGHTS.get(code, CHANNEL_WEIGHTS["default"])[-1] for code in CODES},
        "agent_label_noise": AGENT_NOISE,
        "survey_rate": SURVEY_RATE,
        "no_complaint_respondents": round(n_complaints * NO_COMPLAINT_RESPONDENTS_PER_COMPLAINT),
    }


def _readme(seed: int, n_complaints: int) -> str:
    taxonomy = load_taxonomy()
    effects = planted_effects(seed, n_complaints)
    command = "python -m tousu.demo.data" + ("" if seed == DEFAULT_SEED else f" --seed {seed}") + \
        ("" if n_complaints == DEFAULT_COMPLAINTS else f" --complaints {n_complaints}")
    table = "\n".join(
        f"| {code} | {taxonomy.name_of(code)} | {CATEGORY_MIX[code]:.0%} | −{CSAT_DROP[code]} "
        f"| {effects['repeat_rate'][code]:.0%} | {effects['response_median_hours'][code]:g} "
        f"| {effects['resolution_median_hours'][code]:g} | {effects['escalation_mention_rate'][code]:.0%} "
        f"| {effects['miit_transfer_share'][code]:.0%} |"
        for code in effects["csat"]["order_by_drop"]
    )
    return f"""# data/demo · 演示数据（全部为合成数据 / ALL DATA IS SYNTHETIC）

本目录中的所有工单、问卷和客户号都是程序生成的**虚构数据**，不对应任何真实客户；文中的电话号码是随机数字。
由 `{command}`（随机种子 seed = {seed}，{n_complaints} 条投诉）生成，同一种子生成的文件逐字节相同。
请勿手工修改：改动生成器后重新运行上面的命令。

Every work order, survey and customer id in this folder is **synthetic**, made up by a program; none
belongs to a real customer and phone numbers in the texts are random digits. Generated by
`{command}` (seed {seed}, {n_complaints} complaints); the same seed gives byte-identical files. Do not
edit by hand: change the generator and rerun the command.

## Files

| file | columns |
|---|---|
| `complaints.csv` (UTF-8 with BOM) | 工单号 ticket id · 客户号 customer id · 内容 complaint text · 受理时间 created · 首次响应时间 first response (empty: never responded) · 办结时间 resolved (empty: open) · 省份 province · 渠道 channel (热线/营业厅/APP/网厅/工信部转办) · 客户类型 segment (个人/家庭宽带/政企/校园) · 重复投诉 repeat (是/否) · 人工分类 level-1 code assigned by an agent ({AGENT_NOISE:.0%} wrong on purpose) |
| `surveys.csv` (UTF-8 with BOM) | 问卷号 survey id · 工单号 the complaint it follows (empty: respondent without a complaint) · 客户号 · 触点 touchpoint (10086热线/营业厅/装维/APP) · 调查时间 survey time · CSAT 1–5 · NPS 0–10 |
| `truth.csv` (UTF-8 with BOM) | 工单号 · true_category: the code the text was generated from · true_subcategory: the level-2 code of the sub-case it was written from (empty for categories without children and for the very short orders) · true_categories: every problem the text states, `\\|`-joined, the true_category first (two for the multi-issue orders below) |
| `planted_effects.yaml` | the planted effects below, machine-readable (tests read it) |

Times are "YYYY-MM-DD HH:MM:SS", {PERIOD_START} to {PERIOD_END}; the export is as of {_fmt(SNAPSHOT)}, so
later responses and resolutions are empty. Codes are the level-1 categories of
`data/taxonomy/telecom.yaml`.

## 植入效应 / Planted effects

Satisfaction: a respondent without a complaint has latent satisfaction {CSAT_BASELINE}; a complaint of
category c lowers it by drop(c) (by the sum over its categories for a multi-issue order), a repeat complaint by another {REPEAT_PENALTY}; person noise
N(0, {PERSON_SD}). CSAT = round(latent + N(0, {CSAT_SD})) clipped to 1–5 (so means are compressed
towards the middle); NPS = round({NPS_INTERCEPT} + {NPS_SLOPE}·(latent − {CSAT_BASELINE}) + N(0, {NPS_SD}))
clipped to 0–10. {SURVEY_RATE:.0%} of complaints are sent a survey a few days after resolution (fewer come
back: none after the export date), plus {effects['no_complaint_respondents']} respondents without a complaint.

| code | 类别 | share | CSAT drop | repeat rate | median response h | median resolution h (after response) | text threatens escalation (工信部/12300/315/媒体) | 工信部转办 channel |
|---|---|---|---|---|---|---|---|---|
{table}

Pairs whose mean CSAT separates clearly at the default size (the first has the lower mean):
{", ".join(f"{a} < {b}" for a, b in STRONG_VS_WEAK)}.

Multi-issue orders: {MULTI_ISSUE_SHARE:.0%} of the {MULTI_ISSUE_CATEGORY} ({taxonomy.name_of(MULTI_ISSUE_CATEGORY)}) orders
were also met with rudeness while the customer disputed the bill ({MULTI_ISSUE_SECOND},
{taxonomy.name_of(MULTI_ISSUE_SECOND)}): the text tells both problems ("…另外客户去营业厅问这笔扣费，营业员态度很差"),
true_categories is `{MULTI_ISSUE_CATEGORY}|{MULTI_ISSUE_SECOND}`, and the drops add up: −{CSAT_DROP[MULTI_ISSUE_CATEGORY]} − {CSAT_DROP[MULTI_ISSUE_SECOND]}
= −{effects['multi_issue']['csat_drop']:g}; the agents filed {MULTI_ISSUE_AGENT_SECOND:.0%} of them under {MULTI_ISSUE_SECOND} (人工分类), the rest
under {MULTI_ISSUE_CATEGORY}. Counting the primary category alone therefore overstates the drop of
{MULTI_ISSUE_CATEGORY}; counting every category recovers both.

What changed from {CHANGE_PERIODS[0]} to {CHANGE_PERIODS[1]} (survey months, `tousu link --compare {CHANGE_PERIODS[0]} {CHANGE_PERIODS[1]} --freq M`):
mix — {MIX_CATEGORY} ({taxonomy.name_of(MIX_CATEGORY)}) orders created in {CHANGE_PERIODS[1]} are {MIX_FACTOR:g}× what
they would have been (the extra orders replace October orders of {", ".join(MIX_DONORS)}, so the total stays), so its
share of the respondents grows at its usual low score; rate — {RATE_CATEGORY} ({taxonomy.name_of(RATE_CATEGORY)})
complainants answering in {CHANGE_PERIODS[1]} are {RATE_DROP:g} latent point less satisfied than before, at an
unchanged share. (Over the whole period this lowers the mean CSAT of {RATE_CATEGORY} by about a sixth of that.)

Trend: {GROWTH_CATEGORY} ({taxonomy.name_of(GROWTH_CATEGORY)}) grows from {GROWTH_START} to {PERIOD_END}:
its daily rate ramps linearly from 1× to {GROWTH_PEAK:g}× the earlier rate; the other categories are flat
(with a weekday pattern), but for the October change above.

Text: composed from interchangeable fragments per category and sub-case. In about
{1 - NAMED_SHARE:.0%} of orders the core describes the problem without the taxonomy's words ("在厅里等了一个多小时"
rather than 排队), so a first-keyword rule on the taxonomy's keywords stays well below 70% accuracy;
about 12% mention a second category in passing, about 15% are long (150–400 characters) and 5% very
short (< 15), with colloquial phrases, rare typos/homophones, repeated punctuation and phone numbers.
"""


def generate_demo_data(out_dir: Path | None = None, seed: int = DEFAULT_SEED,
                       n_complaints: int = DEFAULT_COMPLAINTS) -> dict[str, Path]:
    """Write the synthetic demo tables, planted_effects.yaml and README.md; return their paths."""
    out_dir = Path(out_dir) if out_dir is not None else data_dir() / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    text_rng = random.Random(seed)

    complaints = _complaints(rng, text_rng, n_complaints, seed)
    surveys = _surveys(rng, complaints, round(n_complaints * NO_COMPLAINT_RESPONDENTS_PER_COMPLAINT))

    paths = {
        "complaints": out_dir / "complaints.csv",
        "surveys": out_dir / "surveys.csv",
        "truth": out_dir / "truth.csv",
        "planted_effects": out_dir / "planted_effects.yaml",
        "readme": out_dir / "README.md",
    }
    _write_csv(paths["complaints"], COMPLAINT_COLUMNS, [
        (c["ticket"], c["customer"], c["text"], _fmt(c["created"]), _fmt(c["responded"]), _fmt(c["resolved"]),
         c["province"], c["channel"], c["segment"], "是" if c["repeat"] else "否", c["agent_label"])
        for c in complaints
    ])
    _write_csv(paths["surveys"], SURVEY_COLUMNS, [
        (s["id"], s["ticket"], s["customer"], s["touchpoint"], _fmt(s["time"]), s["csat"], s["nps"]) for s in surveys
    ])
    _write_csv(paths["truth"], TRUTH_COLUMNS, [(c["ticket"], c["category"], c["subcategory"], "|".join(c["categories"]))
                                              for c in complaints])
    paths["planted_effects"].write_text(
        "# Planted effects of the synthetic demo data; written by python -m tousu.demo.data, do not edit.\n"
        + yaml.safe_dump(planted_effects(seed, n_complaints), allow_unicode=True, sort_keys=False, width=200),
        encoding="utf-8",
    )
    paths["readme"].write_text(_readme(seed, n_complaints), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tousu.demo.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output folder (default: data/demo)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--complaints", type=int, default=DEFAULT_COMPLAINTS,
                        help=f"number of complaint work orders (default {DEFAULT_COMPLAINTS})")
    args = parser.parse_args(argv)
    for path in generate_demo_data(args.out, args.seed, args.complaints).values():
        print(path)


if __name__ == "__main__":
    main()
