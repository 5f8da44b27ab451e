"""Small labelled complaint tables the tests build themselves (no ../shared)."""
from __future__ import annotations

import itertools
import random

import pandas as pd

TEMPLATES = {
    "BIL": ["本月话费被乱扣了{n}元，要求退费", "账单里多扣了{n}元流量费，没用流量也收费", "话费无故多收{n}元，要求查明扣费原因并退还",
            "月租费突然涨了{n}元，之前没有通知", "充值{n}元话费没到账却扣了钱"],
    "MIS": ["没有办理过却被开通了{n}元的视频彩铃包月业务，不知情定制", "营业员私自给我开通了{n}元增值业务，未经同意",
            "办理套餐时承诺送{n}G流量，实际没有兑现，夸大宣传", "合约机办理时没告知合约期和违约金{n}元", "被强制捆绑办理{n}元宽带才能买手机"],
    "NET": ["家里手机信号很差只有一格，打电话经常掉线", "小区{n}楼没有信号，网速非常慢", "5G信号覆盖太差，上网卡顿网页打不开",
            "宽带每天晚上断网{n}次，网速达不到签约速率", "地下室完全无信号，通话中断"],
    "QUE": ["营业厅排队等候了{n}分钟才办上业务", "在营业厅取号后等了{n}个号还没叫到", "营业厅只开一个窗口，排了很长的队",
            "周末去营业厅排队{n}分钟，效率太低", "营业厅人多排队等候时间太长"],
    "HOT": ["打10086人工服务一直打不通，等了{n}分钟", "10086热线转人工转不过去，一直占线", "客服热线难接通，拨打{n}次都没人接",
            "10086语音导航绕来绕去转不到人工", "打客服电话等待时间太长，{n}分钟没人接"],
    "SEC": ["每天收到{n}条垃圾短信，怀疑个人信息泄露", "骚扰电话太多，一天接到{n}个推销电话", "接到诈骗电话，对方知道我的姓名和套餐",
            "个人信息被泄露，收到大量营销短信", "号码被他人冒用补卡，隐私泄露"],
}


# The level-2 category (data/taxonomy/telecom.yaml) of each template above, by position.
SUBCATEGORIES = {
    "BIL": ["BIL.UNKNOWN", "BIL.DATA", "BIL.UNKNOWN", "BIL.PLAN", "BIL.REFUND"],
    "MIS": ["MIS.UNAUTH", "MIS.UNAUTH", "MIS.EXAGGERATED", "MIS.CONTRACT", "MIS.BUNDLE"],
    "NET": ["NET.MOBILE", "NET.MOBILE", "NET.MOBILE", "NET.BROADBAND", "NET.MOBILE"],
}


def labelled_complaints(per_category: int = 20, seed: int = 0, subcategory_col: str | None = None) -> pd.DataFrame:
    """``per_category`` varied complaints for each of six taxonomy categories, shuffled; with
    ``subcategory_col``, also a column of level-2 labels (empty for the categories without
    children)."""
    rng = random.Random(seed)
    rows = []
    for code, templates in TEMPLATES.items():
        for index, template in zip(range(per_category), itertools.cycle(templates)):
            prefix = rng.choice(["", "客户反映：", "用户来电称", "", "投诉："])
            suffix = rng.choice(["", "，请处理，谢谢。", "，非常不满。", "！", "，要求尽快解决"])
            rows.append({"工单号": f"{code}-{index:03d}", "内容": prefix + template.format(n=rng.randint(2, 99)) + suffix,
                         "类别": code})
            if subcategory_col is not None:
                rows[-1][subcategory_col] = SUBCATEGORIES[code][index % len(templates)] if code in SUBCATEGORIES else ""
    rng.shuffle(rows)
    return pd.DataFrame(rows)


def link_into_store(tmp_path, complaints: pd.DataFrame, surveys: pd.DataFrame, *link_options: str):
    """What a user does before opening the explorer: the classified complaints into a results
    store, then ``tousu link`` over them with ``--store`` (and ``link_options``, no charts).
    Returns (store path, report directory)."""
    from tousu.cli import main
    from tousu.store import ResultsStore

    complaints.to_csv(tmp_path / "classified.csv", index=False)
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    path, out = tmp_path / "results.duckdb", tmp_path / "report"
    with ResultsStore(path) as results:
        results.upsert_complaints(complaints, text_column="内容", id_column="工单号")
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 *link_options, "--store", str(path), "--no-charts"]) == 0
    return path, out
