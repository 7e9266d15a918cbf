#include "service.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "date.h"

static int64_t last_ping_ms;

void pufa_service_ready(const char *status) {
    char msg[256];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status ? status : "serving");
    sd_notify(0, msg);
}

void pufa_service_stopping(void) {
    sd_notify(0, "STOPPING=1");
}

int64_t pufa_service_watchdog_ms(void) {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return (int64_t)(usec / 1000);
}

void pufa_service_watchdog(void) {
    static int64_t interval = -1;
    if (interval < 0)
        interval = pufa_service_watchdog_ms();
    if (interval == 0)
        return;
    int64_t now = pufa_now_ms();
    if (now - last_ping_ms >= interval / 2) {
        sd_notify(0, "WATCHDOG=1");
        last_ping_ms = now;
    }
}
