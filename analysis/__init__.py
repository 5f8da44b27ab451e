"""The numbers of the monthly satisfaction meeting, computed once for ``tousu link`` and the explorer.

    linked = linking.link(classified, surveys, key="工单号")   # validate + join; problems reported
    scores = scores.group_scores(linked, by="category")       # CSAT / NPS per category, with CIs
    drivers, model = drivers.driver_table(linked.joined, "CSAT", names)
    ipa = drivers.score_quadrant(drivers, linked.joined, "CSAT")
    volumes.pareto(...); volumes.trends(...); volumes.growth_alerts(...); kpis.kpis(...)

``conventions`` holds what every table shares (the baseline, the missing group, how text and
times are read); ``report`` assembles the tables of ``tousu link``; ``charts`` draws what both
the report and the explorer show.
"""
