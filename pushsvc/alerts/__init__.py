"""Alert state: what each source (JMA, a river gauge, a municipality …) last said is in force, per area.

An alert is (source, phenomenon, area [, district]) → a value (product, 警戒レベル, severity, rank) with a
status (``in_force`` | ``lifted`` | ``cancelled`` | ``expired``), when it was issued, last changed and last
confirmed (the source's own times), the ref of the statement that set it, and the notification that
announced it. A change of that state is what produces notifications, corrections and the public feeds;
nothing is ever concluded from expiry times. A new source adds a *mapping* to ``Statement``, not a pipeline.

Interface (``service``; every function takes ``db_session`` and never commits)::

    from pushsvc.alerts import service as alerts
    from pushsvc.alerts.schemas import AreaValue, Scope, Statement, Value

    st = Statement(source="jma-extra", ref="高知地方気象台|気象警報・注意報|2026-06-02T12:00+09:00|",
                   at=report_time,
                   items=(AreaValue("weather:大雨", "39201", Value.of("大雨警報", rank=2)),
                          AreaValue("weather:洪水", "39201", None)),          # None = 解除
                   scope=Scope(prefix="weather:", areas=frozenset({...})))    # full restatement (VPWW54)
    transitions = alerts.apply_statement(db_session, st, now=now)
    # → [Transition(change="issued"|"raised"|"lowered"|"lifted", before=Value|None, after=Value|None, …)]
    alerts.cancel_statement(db_session, source=..., ref=..., at=..., now=...)  # 取消 → "cancelled"
    alerts.correct_statement(db_session, st_with_same_ref, now=now)              # 訂正 → "corrected"
    alerts.attach_notification(db_session, transitions, notification.id)         # who was told
    alerts.in_force(db_session, areas={"39201"}, sources=None)                    # → [AlertStateOut]
    alerts.mark_stale(db_session, source)            # a silent source: flag, keep listing
    alerts.expire_silent(db_session, source, confirmed_before=..., now=...)      # clean up, tell no one

Rules:

- A value where nothing is in force is ``issued``; a higher ``rank`` ``raised`` and a lower ``lowered``
  (both are JMA's 切替); the same rank is a restatement (継続): ``confirmed_at`` moves, nobody is told.
  ``None`` is ``lifted`` (解除). With a ``Scope`` the statement is a full restatement: an in-force alert of
  the source inside the scope that it does not name is lifted. A key last stated later than the statement
  is left alone.
- ``cancel_statement`` withdraws exactly the changes made by the statement with that ref (JMA: office,
  InfoKind, ReportDateTime, EventID — a 取消 carries the ReportDateTime of what it cancels): each key goes
  back to what it was before, unless a later statement has changed it since; each ``cancelled``
  transition carries the notifications that announced the withdrawn change, so the correction reaches
  exactly their recipients and nothing older is touched.
- ``correct_statement`` replaces the statement with the same ref; only keys whose outcome differs from
  what residents were told come back (``corrected``, with the notifications that told them).
- Levels, actions and the one severity rule (Lv4+ emergency, Lv3 warning, Lv2 advisory) are in
  ``levels``; ``messages`` turns one statement's transitions into one message per municipality.
"""
