// UI strings. Chinese is the default (regional officials); English is a switch kept in
// localStorage "lang". Static text uses data-i18n / data-i18n-title / data-i18n-placeholder
// attributes; scripts call t() and re-render through onLangChange().

const STRINGS = {
  zh: {
    "app.name": "StreamHub 区域健康数据中心",
    "page.login": "登录",
    "page.dashboard": "区域实时看板",
    "page.console": "运维控制台",
    "page.catalog": "数据目录",
    "page.forbidden": "无权访问",
    "role.official": "区域管理者",
    "role.operator": "运维人员",
    "role.developer": "开发人员",
    "header.logout": "退出登录",
    "header.user": "{user}（{role}）",
    "lang.switch": "English",
    "lang.switch.title": "Switch to English",
    "common.loading": "加载中…",
    "common.none": "暂无数据",
    "common.failed": "加载失败（原因见页面顶部）",
    "common.all": "全部",
    "common.close": "关闭",
    "common.refresh_every": "每 {n} 秒自动刷新",
    "common.rows_shown": "共 {total} 条，显示前 {shown} 条",
    "common.rows_total": "共 {total} 条",
    "error.network": "无法连接服务器，请检查网络或服务是否运行。",
    "error.forbidden": "无权访问此页面",
    "error.unavailable": "数据服务暂不可用：页面显示的是最近一次读取的数据（详情见提示）。",
    "error.http": "请求失败（HTTP {status}）",
    "error.no_charts": "图表组件未加载：请在服务器上运行 scripts/bootstrap 安装 ECharts。",

    "login.title": "登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.hint": "请使用分配给您的账号登录。长时间无操作后需重新登录。",
    "login.failed": "登录失败",
    "login.no_pages": "该账号没有可访问的页面。",

    "forbidden.message": "无权访问此页面",
    "forbidden.allowed": "您可以访问：",
    "forbidden.none": "您的账号没有可访问的页面，请联系管理员。",

    "dash.day": "统计日期：{day}",
    "dash.provisional": "今日数据为临时数据，随上报持续更新",
    "dash.district": "区县",
    "dash.all_districts": "全部区县",
    "kpi.visits": "门急诊人次",
    "kpi.admissions": "入院人次",
    "kpi.discharges": "出院人次",
    "kpi.inpatients": "在院人数",
    "kpi.avg_cost": "门诊次均费用",
    "kpi.drug_share": "药占比",
    "kpi.lab": "检验报告数",
    "kpi.exam": "检查报告数",
    "kpi.suppressed": "少于 5 人，不予显示",
    "fresh.age": "数据更新于 {n} 秒前",
    "fresh.never": "尚未收到数据",
    "fresh.unreachable": "无法连接服务器",
    "fresh.state.fresh": "正常",
    "fresh.state.amber": "延迟",
    "fresh.state.red": "中断",
    "trend.title": "分时趋势（每分钟）",
    "trend.today": "今日",
    "trend.last_week": "上周同日",
    "trend.scope_region": "范围：全区域",
    "trend.scope_institution": "范围：{name}",
    "trend.reset": "查看全区域",
    "trend.suppressed": "<5",
    "metric.visits": "门急诊",
    "metric.admissions": "入院",
    "metric.discharges": "出院",
    "rank.district": "区县排名",
    "rank.institution": "机构排名",
    "rank.col.rank": "序",
    "rank.col.district": "区县",
    "rank.col.institution": "机构",
    "rank.col.visits": "门急诊",
    "rank.col.admissions": "入院",
    "rank.col.discharges": "出院",
    "rank.col.inpatients": "在院",
    "rank.col.avg_cost": "次均费用",
    "rank.click_hint": "点击机构查看其分时趋势",

    "console.health": "链路健康",
    "console.health_hint": "点击单元格查看原因",
    "console.recon": "数据对账",
    "console.recon_daily": "按日汇总",
    "console.anomalies": "异常告警",
    "console.quality": "死信与数据质量",
    "console.institution": "机构",
    "console.status": "状态",
    "console.hours": "时间范围",
    "console.hours_n": "近 {n} 小时",
    "console.open_only": "仅显示未恢复",
    "console.detail": "详情",
    "console.neighbours": "同表前后 10 分钟的窗口",
    "console.window_missing": "该窗口已不存在",
    "hop.source": "源库",
    "hop.capture": "采集",
    "hop.channel": "通道",
    "hop.processing": "处理",
    "hop.center": "中心",
    "hop.overall": "总体",
    "status.ok": "正常",
    "status.degraded": "降级",
    "status.down": "中断",
    "status.unknown": "未知",
    "col.institution": "机构",
    "col.system": "系统",
    "col.table": "表",
    "col.window": "窗口开始",
    "col.window_end": "窗口结束",
    "col.source_changes": "源端变更",
    "col.standardized": "已标准化",
    "col.dead_lettered": "死信",
    "col.landed": "已落地",
    "col.difference": "差异",
    "col.status": "状态",
    "col.detail": "说明",
    "col.checked": "核对时间",
    "col.duplicates": "重复",
    "col.repaired": "已补数",
    "col.revision": "版本",
    "col.day": "日期",
    "col.windows": "窗口数",
    "col.matched": "一致",
    "col.missing": "缺失",
    "col.excess": "多余",
    "col.rejected": "拒收",
    "col.kind": "类型",
    "col.severity": "级别",
    "col.start": "开始",
    "col.end": "结束",
    "col.connector": "连接器",
    "col.action": "操作",
    "col.category": "类别",
    "col.stage_rule": "环节 / 规则",
    "col.error_dimension": "错误类型 / 维度",
    "col.count": "条数",
    "anomaly.open": "未恢复",
    "anomaly.recovered": "已恢复",
    "anomaly.suppressed": "已确认 / 维护中",
    "anomaly.ack": "确认",
    "anomaly.ack_sent": "已提交确认",
    "anomaly.ack_prompt": "确认异常 {id}\n请填写处理说明：",
    "anomaly.ack_done": "已确认异常 {id}",
    "quality.dead_letter": "死信",
    "quality.rule": "质量规则",

    "catalog.topics": "主题列表",
    "catalog.filter": "按名称、说明、负责人筛选…",
    "catalog.group": "分组",
    "catalog.select_hint": "点击左侧主题查看字段与订阅信息",
    "catalog.col.name": "主题",
    "catalog.col.group": "分组",
    "catalog.col.security": "安全级别",
    "catalog.col.owner": "负责人",
    "catalog.col.description": "说明",
    "catalog.partitions": "分区数",
    "catalog.retention": "保留时长",
    "catalog.retention_forever": "永久",
    "catalog.cleanup": "清理策略",
    "catalog.key": "消息键",
    "catalog.value_schema": "值模式（Avro）",
    "catalog.security": "安全级别 / 类别",
    "catalog.owner": "负责人",
    "catalog.fields": "字段",
    "catalog.field.name": "字段名",
    "catalog.field.type": "类型",
    "catalog.field.doc": "说明",
    "catalog.field.default": "默认值",
    "catalog.no_fields": "该主题没有登记字段。",
    "dur.days": "{n} 天",
    "dur.hours": "{n} 小时",
    "dur.minutes": "{n} 分钟",
  },
  en: {
    "app.name": "StreamHub Regional Health Data Hub",
    "page.login": "Sign in",
    "page.dashboard": "Regional live dashboard",
    "page.console": "Operations console",
    "page.catalog": "Data catalog",
    "page.forbidden": "Access denied",
    "role.official": "Official",
    "role.operator": "Operator",
    "role.developer": "Developer",
    "header.logout": "Sign out",
    "header.user": "{user} ({role})",
    "lang.switch": "中文",
    "lang.switch.title": "切换到中文",
    "common.loading": "Loading…",
    "common.none": "No data",
    "common.failed": "Could not load (see the message at the top)",
    "common.all": "All",
    "common.close": "Close",
    "common.refresh_every": "Refreshes every {n} s",
    "common.rows_shown": "{total} rows, showing the first {shown}",
    "common.rows_total": "{total} rows",
    "error.network": "Cannot reach the server. Check the network or whether the service is running.",
    "error.forbidden": "You are not allowed to open this page",
    "error.unavailable": "The data service is unavailable: the page shows the last figures read (hover for details).",
    "error.http": "Request failed (HTTP {status})",
    "error.no_charts": "Charts are not loaded: run scripts/bootstrap on the server to install ECharts.",

    "login.title": "Sign in",
    "login.username": "User name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.hint": "Sign in with the account you were given. After a period without activity you sign in again.",
    "login.failed": "Sign-in failed",
    "login.no_pages": "This account has no pages it may open.",

    "forbidden.message": "You are not allowed to open this page",
    "forbidden.allowed": "You may open:",
    "forbidden.none": "Your account may not open any page; ask an administrator.",

    "dash.day": "Day: {day}",
    "dash.provisional": "Today's figures are provisional and keep updating",
    "dash.district": "District",
    "dash.all_districts": "All districts",
    "kpi.visits": "Outpatient & emergency visits",
    "kpi.admissions": "Admissions",
    "kpi.discharges": "Discharges",
    "kpi.inpatients": "Inpatients on hand",
    "kpi.avg_cost": "Avg. outpatient cost",
    "kpi.drug_share": "Drug share",
    "kpi.lab": "Lab reports",
    "kpi.exam": "Exam reports",
    "kpi.suppressed": "Fewer than 5 people: not shown",
    "fresh.age": "Updated {n} s ago",
    "fresh.never": "No data received yet",
    "fresh.unreachable": "Cannot reach the server",
    "fresh.state.fresh": "Fresh",
    "fresh.state.amber": "Delayed",
    "fresh.state.red": "Stalled",
    "trend.title": "Per-minute trend",
    "trend.today": "Today",
    "trend.last_week": "Same weekday last week",
    "trend.scope_region": "Scope: whole region",
    "trend.scope_institution": "Scope: {name}",
    "trend.reset": "Whole region",
    "trend.suppressed": "<5",
    "metric.visits": "Visits",
    "metric.admissions": "Admissions",
    "metric.discharges": "Discharges",
    "rank.district": "Districts",
    "rank.institution": "Institutions",
    "rank.col.rank": "#",
    "rank.col.district": "District",
    "rank.col.institution": "Institution",
    "rank.col.visits": "Visits",
    "rank.col.admissions": "Adm.",
    "rank.col.discharges": "Disch.",
    "rank.col.inpatients": "In-pt.",
    "rank.col.avg_cost": "Avg. cost",
    "rank.click_hint": "Click an institution to see its trend",

    "console.health": "Link health",
    "console.health_hint": "Click a cell to see the reason",
    "console.recon": "Reconciliation",
    "console.recon_daily": "Daily totals",
    "console.anomalies": "Anomalies",
    "console.quality": "Dead letters and data quality",
    "console.institution": "Institution",
    "console.status": "Status",
    "console.hours": "Period",
    "console.hours_n": "Last {n} h",
    "console.open_only": "Open only",
    "console.detail": "Details",
    "console.neighbours": "Windows of the same table within ±10 min",
    "console.window_missing": "This window no longer exists",
    "hop.source": "Source",
    "hop.capture": "Capture",
    "hop.channel": "Channel",
    "hop.processing": "Processing",
    "hop.center": "Center",
    "hop.overall": "Overall",
    "status.ok": "OK",
    "status.degraded": "Degraded",
    "status.down": "Down",
    "status.unknown": "Unknown",
    "col.institution": "Institution",
    "col.system": "System",
    "col.table": "Table",
    "col.window": "Window start",
    "col.window_end": "Window end",
    "col.source_changes": "Source changes",
    "col.standardized": "Standardized",
    "col.dead_lettered": "Dead-lettered",
    "col.landed": "Landed",
    "col.difference": "Difference",
    "col.status": "Status",
    "col.detail": "Detail",
    "col.checked": "Checked",
    "col.duplicates": "Duplicates",
    "col.repaired": "Repaired",
    "col.revision": "Revision",
    "col.day": "Day",
    "col.windows": "Windows",
    "col.matched": "Matched",
    "col.missing": "Missing",
    "col.excess": "Excess",
    "col.rejected": "Rejected",
    "col.kind": "Kind",
    "col.severity": "Severity",
    "col.start": "Start",
    "col.end": "End",
    "col.connector": "Connector",
    "col.action": "Action",
    "col.category": "Category",
    "col.stage_rule": "Stage / rule",
    "col.error_dimension": "Error type / dimension",
    "col.count": "Count",
    "anomaly.open": "Open",
    "anomaly.recovered": "Recovered",
    "anomaly.suppressed": "Acknowledged / maintenance",
    "anomaly.ack": "Acknowledge",
    "anomaly.ack_sent": "Acknowledgement sent",
    "anomaly.ack_prompt": "Acknowledge anomaly {id}\nNote:",
    "anomaly.ack_done": "Acknowledged anomaly {id}",
    "quality.dead_letter": "Dead letter",
    "quality.rule": "Quality rule",

    "catalog.topics": "Topics",
    "catalog.filter": "Filter by name, description, owner…",
    "catalog.group": "Group",
    "catalog.select_hint": "Click a topic to see its fields and how to subscribe",
    "catalog.col.name": "Topic",
    "catalog.col.group": "Group",
    "catalog.col.security": "Security level",
    "catalog.col.owner": "Owner",
    "catalog.col.description": "Description",
    "catalog.partitions": "Partitions",
    "catalog.retention": "Retention",
    "catalog.retention_forever": "Forever",
    "catalog.cleanup": "Cleanup policy",
    "catalog.key": "Message key",
    "catalog.value_schema": "Value schema (Avro)",
    "catalog.security": "Security level / category",
    "catalog.owner": "Owner",
    "catalog.fields": "Fields",
    "catalog.field.name": "Field",
    "catalog.field.type": "Type",
    "catalog.field.doc": "Description",
    "catalog.field.default": "Default",
    "catalog.no_fields": "This topic has no registered fields.",
    "dur.days": "{n} d",
    "dur.hours": "{n} h",
    "dur.minutes": "{n} min",
  },
};

const LANGS = ["zh", "en"];
const listeners = [];

export function getLang() {
  let stored = null;
  try {
    stored = window.localStorage.getItem("lang");
  } catch {
    // Storage can be blocked (private mode); Chinese stays the default.
  }
  return LANGS.includes(stored) ? stored : "zh";
}

export function setLang(lang) {
  const next = LANGS.includes(lang) ? lang : "zh";
  try {
    window.localStorage.setItem("lang", next);
  } catch {
    // Not persisted; the switch still applies to this page.
  }
  currentLang = next;
  applyI18n(document);
  for (const cb of listeners) cb(next);
}

let currentLang = getLang();

/** Translate key, replacing {name} placeholders with params. Unknown keys show as the key. */
export function t(key, params = {}) {
  const table = STRINGS[currentLang] || STRINGS.zh;
  const text = key in table ? table[key] : (STRINGS.zh[key] ?? key);
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

export function lang() {
  return currentLang;
}

export function onLangChange(cb) {
  listeners.push(cb);
}

/** Fill every data-i18n* element under root and the document language/title. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  document.documentElement.lang = currentLang === "zh" ? "zh-CN" : "en";
  const pageKey = document.body && document.body.dataset.page;
  if (pageKey) document.title = `${t("page." + pageKey)} · StreamHub`;
  for (const btn of document.querySelectorAll('[data-testid="lang-switch"]')) {
    btn.textContent = t("lang.switch");
    btn.title = t("lang.switch.title");
    btn.dataset.lang = currentLang;
  }
}

/** A button that flips zh <-> en; every page puts one in its header. */
export function makeLangSwitch() {
  const btn = document.createElement("button");
  btn.type = "button";
  btn.className = "lang-switch";
  btn.setAttribute("data-testid", "lang-switch");
  btn.addEventListener("click", () => setLang(currentLang === "zh" ? "en" : "zh"));
  return btn;
}
