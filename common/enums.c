#include "enums.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *code;
    const char *label;
} entry;

/* Index = wire number; [0] is "unset". */
static const entry themes[PUFA_THEME_MAX + 1] = {
    {NULL, NULL},
    {"xi_rule_of_law", "习近平法治思想"},
    {"constitution", "宪法"},
    {"civil_code", "民法典"},
    {"national_security", "国家安全"},
    {"party_regulations", "党内法规"},
    {"public_health", "公共卫生"},
    {"business_environment", "营商环境"},
    {"rural_revitalization", "乡村振兴"},
    {"ecology", "生态环境"},
    {"anti_gang", "扫黑除恶"},
    {"anti_drug", "禁毒"},
    {"anti_fraud", "反诈"},
    {"minors", "未成年人保护"},
    {"work_safety", "安全生产"},
    {"ethnic_unity", "民族团结"},
    {"other", "其他"},
};

static const entry venues[PUFA_VENUE_MAX + 1] = {
    {NULL, NULL},
    {"organ", "机关"},
    {"village", "乡村"},
    {"community", "社区"},
    {"school", "学校"},
    {"enterprise", "企业"},
    {"institution", "单位"},
    {"scenic_area", "景区"},
    {"online", "网络"},
    {"religious_site", "宗教场所"},
    {"family", "家庭"},
    {"barracks", "军营"},
    {"public_place", "公共场所"},
    {"other", "其他"},
};

static const entry forms[PUFA_FORM_MAX + 1] = {
    {NULL, NULL},
    {"lecture", "讲座"},
    {"consultation", "法律咨询"},
    {"performance", "文艺演出"},
    {"quiz", "知识竞赛"},
    {"case_explanation", "以案释法"},
    {"exhibition", "展览"},
    {"online_post", "线上推送"},
    {"materials", "发放资料"},
    {"training", "培训"},
    {"other", "其他"},
};

static const entry *table(pufa_enum_kind kind, int *max) {
    switch (kind) {
    case PUFA_ENUM_THEME:
        *max = PUFA_THEME_MAX;
        return themes;
    case PUFA_ENUM_VENUE:
        *max = PUFA_VENUE_MAX;
        return venues;
    case PUFA_ENUM_FORM:
        *max = PUFA_FORM_MAX;
        return forms;
    }
    *max = 0;
    return NULL;
}

const char *pufa_enum_field(pufa_enum_kind kind) {
    static const char *const names[] = {"theme", "venue", "form"};
    return names[kind];
}

int pufa_enum_max(pufa_enum_kind kind) {
    int max;
    table(kind, &max);
    return max;
}

const char *pufa_enum_code(pufa_enum_kind kind, int value) {
    int max;
    const entry *t = table(kind, &max);
    return (t && value >= 1 && value <= max) ? t[value].code : NULL;
}

const char *pufa_enum_label(pufa_enum_kind kind, int value) {
    int max;
    const entry *t = table(kind, &max);
    return (t && value >= 1 && value <= max) ? t[value].label : NULL;
}

int pufa_enum_lookup(pufa_enum_kind kind, const char *text) {
    int max;
    const entry *t = table(kind, &max);
    if (!t || !text)
        return 0;
    for (int i = 1; i <= max; i++)
        if (strcmp(text, t[i].code) == 0 || strcmp(text, t[i].label) == 0)
            return i;
    return 0;
}
