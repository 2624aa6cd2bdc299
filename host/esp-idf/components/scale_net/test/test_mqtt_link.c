/*
 * The firmware's esp-mqtt link (../mqtt_link.c, unchanged) on Linux, with the firmware's Wasm host
 * and the release core: this file plays esp-mqtt's task (a thread that calls the link's event
 * handler as esp-mqtt does, and counts a QoS 1 message as acknowledged when the handler returns,
 * which is when esp-mqtt sends its PUBACK) and the core's task (the main thread, which takes the
 * events from the queue main.c makes, NET_EVENTS long, and hands each message to the core).
 *   message-burst  120 commands arrive in one burst, more than the message slots and the event
 *                  queue hold, with a reconnection in the middle, while the core's task stops
 *                  taking events until esp-mqtt's task has to wait: every acknowledged command
 *                  reaches the core (it answers each by its id), no connection event is lost, and
 *                  a message in two fragments is put back together.
 *   stalled-core   the core's task stops for longer than the link waits for a free slot (5 s):
 *                  that message is lost, the log says so and the sender is answered "lost" on the
 *                  result topic, and the link is not left deaf: the next message gets through.
 * Usage: test_mqtt_link <case> <release.wasm>
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "mqtt_client.h"
#include "scale_net.h"
#include "scale_portable.h"
#include "sim_hx711.h"
#include "wasm_host.h"

/* As main.c makes it. */
#define NET_EVENTS 32
#define COMMANDS 120
#define DEVICE "burst"
#define CMD_TOPIC "wasm-scale/" DEVICE "/cmd"
#define RESULT_TOPIC "wasm-scale/" DEVICE "/result"

/* ---- FreeRTOS queues and semaphores on pthreads ------------------------------------------------ */

struct shim_queue {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned length, count, head;
    size_t item_size;
    uint8_t *items;
};

/* How often esp-mqtt's task found no room and had to wait (queue full, or no free message slot). */
static pthread_mutex_t s_wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_wait_changed = PTHREAD_COND_INITIALIZER;
static int s_producer_waits;
static pthread_t s_mqtt_task;

static void producer_waited(void)
{
    if (!pthread_equal(pthread_self(), s_mqtt_task)) return;
    pthread_mutex_lock(&s_wait_lock);
    s_producer_waits++;
    pthread_cond_broadcast(&s_wait_changed);
    pthread_mutex_unlock(&s_wait_lock);
}

static void deadline_in(struct timespec *t, TickType_t ms)
{
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

QueueHandle_t xQueueCreate(unsigned length, size_t item_size)
{
    struct shim_queue *q = calloc(1, sizeof *q);
    CHECK(q != NULL, "no memory");
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    q->length = length;
    q->item_size = item_size;
    q->items = calloc(length, item_size ? item_size : 1);
    return q;
}

BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t ticks)
{
    struct timespec until;
    deadline_in(&until, ticks);
    pthread_mutex_lock(&q->lock);
    if (q->count == q->length) producer_waited();
    while (q->count == q->length) {
        if (ticks == 0 || pthread_cond_timedwait(&q->changed, &q->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&q->lock);
            return pdFALSE;
        }
    }
    if (q->item_size) memcpy(q->items + ((q->head + q->count) % q->length) * q->item_size, item, q->item_size);
    q->count++;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    return pdTRUE;
}

BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t ticks)
{
    struct timespec until;
    deadline_in(&until, ticks == portMAX_DELAY ? 3600000 : ticks);
    pthread_mutex_lock(&q->lock);
    while (q->count == 0) {
        if (ticks == 0 || pthread_cond_timedwait(&q->changed, &q->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&q->lock);
            return pdFALSE;
        }
    }
    if (q->item_size) memcpy(item, q->items + q->head * q->item_size, q->item_size);
    q->head = (q->head + 1) % q->length;
    q->count--;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    return pdTRUE;
}

SemaphoreHandle_t xSemaphoreCreateBinary(void) { return xQueueCreate(1, 0); }
BaseType_t xSemaphoreGive(SemaphoreHandle_t s) { return xQueueSend(s, NULL, 0); }
BaseType_t xSemaphoreTake(SemaphoreHandle_t s, TickType_t ticks) { return xQueueReceive(s, NULL, ticks); }

void vTaskDelay(TickType_t ticks)
{
    producer_waited(); /* the link only waits in esp-mqtt's task, for a free message slot */
    struct timespec t = {.tv_sec = ticks / 1000, .tv_nsec = (long)(ticks % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- ESP-IDF odds and ends --------------------------------------------------------------------- */

uint32_t esp_get_free_heap_size(void) { return 100000; }
uint32_t esp_get_minimum_free_heap_size(void) { return 90000; }
esp_err_t esp_crt_bundle_attach(void *conf) { (void)conf; return ESP_OK; }
const char *esp_err_to_name(esp_err_t code) { return code == ESP_OK ? "ESP_OK" : "error"; }

size_t strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

/* ---- esp-mqtt's task ---------------------------------------------------------------------------- */

struct esp_mqtt_client {
    esp_event_handler_t handler;
    void *arg;
    char subscriptions[4][128];
    int subscribed;
    int next_id;
};
static struct esp_mqtt_client s_client;
static const char *s_case;
static volatile int s_acknowledged; /* QoS 1 messages whose handler returned: esp-mqtt has PUBACKed them */
static volatile bool s_script_done;

/* Steps the two tasks wait for each other at (stalled-core). */
static pthread_mutex_t s_step_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_step_changed = PTHREAD_COND_INITIALIZER;
static int s_step;

static void step_to(int step)
{
    pthread_mutex_lock(&s_step_lock);
    s_step = step;
    pthread_cond_broadcast(&s_step_changed);
    pthread_mutex_unlock(&s_step_lock);
}

static void until_step(int step)
{
    struct timespec until;
    deadline_in(&until, 60000);
    pthread_mutex_lock(&s_step_lock);
    while (s_step < step) CHECK(pthread_cond_timedwait(&s_step_changed, &s_step_lock, &until) != ETIMEDOUT, "step %d never came", step);
    pthread_mutex_unlock(&s_step_lock);
}

esp_mqtt_client_handle_t esp_mqtt_client_init(const esp_mqtt_client_config_t *config)
{
    CHECK(config->broker.address.uri != NULL, "no broker");
    memset(&s_client, 0, sizeof s_client);
    return &s_client;
}

esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t c, esp_mqtt_event_id_t event, esp_event_handler_t handler, void *arg)
{
    (void)event;
    c->handler = handler;
    c->arg = arg;
    return ESP_OK;
}

int esp_mqtt_client_subscribe(esp_mqtt_client_handle_t c, const char *topic, int qos)
{
    (void)qos;
    CHECK(c->subscribed < 4, "too many subscriptions");
    strlcpy(c->subscriptions[c->subscribed++], topic, sizeof c->subscriptions[0]);
    return ++c->next_id;
}

/* What the network task handed to esp-mqtt that says a message was lost. */
static pthread_mutex_t s_lost_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_lost_changed = PTHREAD_COND_INITIALIZER;
static int s_lost_answers;

int esp_mqtt_client_publish(esp_mqtt_client_handle_t c, const char *topic, const char *data, int len, int qos, int retain)
{
    (void)qos, (void)retain;
    if (strcmp(topic, RESULT_TOPIC) == 0 && len == 0 && strstr(data, "\"status\":\"lost\"") && strstr(data, CMD_TOPIC)) {
        pthread_mutex_lock(&s_lost_lock);
        s_lost_answers++;
        pthread_cond_broadcast(&s_lost_changed);
        pthread_mutex_unlock(&s_lost_lock);
    }
    return ++c->next_id;
}

static void *mqtt_task(void *arg);

/* As esp-mqtt's: starts the client's task, which connects and then delivers what the broker sends. */
esp_err_t esp_mqtt_client_start(esp_mqtt_client_handle_t c)
{
    (void)c;
    return pthread_create(&s_mqtt_task, NULL, mqtt_task, NULL) == 0 ? ESP_OK : ESP_FAIL;
}

esp_err_t esp_mqtt_client_disconnect(esp_mqtt_client_handle_t c) { (void)c; return ESP_OK; }
esp_err_t esp_mqtt_client_stop(esp_mqtt_client_handle_t c) { (void)c; return ESP_OK; }

static void deliver(esp_mqtt_event_id_t id, esp_mqtt_event_t *e)
{
    e->event_id = id;
    e->client = &s_client;
    s_client.handler(s_client.arg, "MQTT_EVENTS", id, e);
}

static void connect_and_subscribe(void)
{
    esp_mqtt_event_t e = {.session_present = 1};
    s_client.subscribed = 0;
    deliver(MQTT_EVENT_CONNECTED, &e); /* the link subscribes in here, as esp-mqtt's examples do */
    for (int i = 0; i < s_client.subscribed; i++) {
        esp_mqtt_event_t s = {.msg_id = i + 1};
        deliver(MQTT_EVENT_SUBSCRIBED, &s);
    }
}

/* A QoS 1 message, in two fragments when split (as esp-mqtt hands over one larger than its buffer). */
static void message(const char *topic, const char *payload, bool split)
{
    int len = (int)strlen(payload), first = split ? len / 2 : len;
    esp_mqtt_event_t e = {.topic = (char *)topic, .topic_len = (int)strlen(topic), .data = (char *)payload, .data_len = first,
                          .total_data_len = len, .current_data_offset = 0, .qos = 1};
    deliver(MQTT_EVENT_DATA, &e);
    if (split) {
        esp_mqtt_event_t rest = {.data = (char *)payload + first, .data_len = len - first, .total_data_len = len,
                                 .current_data_offset = first, .qos = 1};
        deliver(MQTT_EVENT_DATA, &rest);
    }
    s_acknowledged++;
}

static void *mqtt_task(void *arg)
{
    (void)arg;
    connect_and_subscribe();
    char payload[64];
    if (strcmp(s_case, "message-burst") == 0) {
        for (int i = 0; i < COMMANDS; i++) {
            if (i == COMMANDS / 2) {
                /* The connection drops and comes back in the middle of the burst. */
                esp_mqtt_event_t d = {0};
                deliver(MQTT_EVENT_DISCONNECTED, &d);
                connect_and_subscribe();
            }
            snprintf(payload, sizeof payload, "{\"cmd\":\"tare\",\"id\":\"b%d\"}", i);
            message(CMD_TOPIC, payload, i % 7 == 3);
            esp_mqtt_event_t p = {.msg_id = 1000 + i};
            if (i % 10 == 0) deliver(MQTT_EVENT_PUBLISHED, &p);
        }
    } else {
        /* Four messages fill the four slots; the fifth finds none while the core's task is stopped. */
        for (int i = 0; i < 5; i++) {
            snprintf(payload, sizeof payload, "{\"cmd\":\"tare\",\"id\":\"b%d\"}", i);
            message(CMD_TOPIC, payload, false);
        }
        step_to(1);
        until_step(2); /* the core's task has caught up */
        message(CMD_TOPIC, "{\"cmd\":\"tare\",\"id\":\"b5\"}", false);
    }
    s_script_done = true;
    step_to(3);
    return NULL;
}

/* ---- the core's task ----------------------------------------------------------------------------- */

static bool s_answered[COMMANDS];
static int s_answers;

/* Publishes what the core has framed, noting each command's answer by its id. */
static void drain(void)
{
    for (;;) {
        int32_t n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
        CHECK(n != INT32_MIN, "out_next trapped");
        if (n <= 0) return;
        size_t cap;
        const uint8_t *io = wasm_host_io(&cap);
        scale_frame_t f;
        CHECK(scale_unframe(io, (size_t)n, &f), "a frame the link could not read");
        char text[1100];
        size_t len = f.payload_len < sizeof text - 1 ? f.payload_len : sizeof text - 1;
        memcpy(text, f.payload, len);
        text[len] = '\0';
        const char *id = strstr(text, "\"id\":\"");
        if (id) {
            id += 6;
            int k;
            if (id[0] == 'b' && sscanf(id + 1, "%d", &k) == 1 && k >= 0 && k < COMMANDS) {
                CHECK(!s_answered[k], "command b%d answered twice", k);
                s_answered[k] = true;
                s_answers++;
            }
        }
        CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0) != INT32_MIN, "out_done trapped");
    }
}

static int s_connected, s_disconnected, s_subscribed, s_published, s_messages;

static void take(const scale_mqtt_event_t *e)
{
    switch (e->kind) {
    case SCALE_MQTT_EVT_CONNECTED:
        s_connected++;
        CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0) != INT32_MIN, "mqtt_connected trapped");
        break;
    case SCALE_MQTT_EVT_DISCONNECTED:
        s_disconnected++;
        CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0) != INT32_MIN, "mqtt_connected trapped");
        break;
    case SCALE_MQTT_EVT_SUBSCRIBED:
        s_subscribed++;
        break;
    case SCALE_MQTT_EVT_PUBLISHED:
        s_published++;
        break;
    case SCALE_MQTT_EVT_MESSAGE: {
        const scale_mqtt_message_t *m = scale_mqtt_message(e->value);
        CHECK(m != NULL && m->payload_len <= sizeof m->payload, "message slot %d", e->value);
        size_t cap;
        uint8_t *io = wasm_host_io(&cap);
        CHECK(m->topic_len + m->payload_len <= cap, "message larger than io");
        memcpy(io, m->topic, m->topic_len);
        memcpy(io + m->topic_len, m->payload, m->payload_len);
        CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, (int32_t)m->topic_len, (int32_t)m->payload_len) != INT32_MIN, "mqtt_message trapped");
        scale_mqtt_message_done(e->value);
        s_messages++;
        break;
    }
    default:
        break;
    }
    drain();
}

/* Waits (for real: the link's own waits are real) until esp-mqtt's task has had to wait `more` more times. */
static void until_producer_waits(int more)
{
    pthread_mutex_lock(&s_wait_lock);
    int target = s_producer_waits + more;
    struct timespec until;
    deadline_in(&until, 60000);
    while (s_producer_waits < target && !s_script_done) {
        CHECK(pthread_cond_timedwait(&s_wait_changed, &s_wait_lock, &until) != ETIMEDOUT, "esp-mqtt's task never had to wait");
    }
    pthread_mutex_unlock(&s_wait_lock);
}

static void on_instantiated(void) {}

static void *net_task(void *arg)
{
    (void)arg;
    scale_mqtt_serve();
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc == 3, "usage: test_mqtt_link <message-burst|stalled-core> <release.wasm>");
    s_case = argv[1];
    FILE *f = fopen(argv[2], "rb");
    CHECK(f != NULL, "cannot open %s", argv[2]);
    static uint8_t wasm[64 * 1024];
    size_t len = fread(wasm, 1, sizeof wasm, f);
    fclose(f);
    wasm_host_config_t host = {.wasm = wasm, .wasm_len = len, .pool_bytes = CONFIG_SCALE_WASM_POOL_KB * 1024,
                               .stack_bytes = CONFIG_SCALE_WASM_STACK_KB * 1024, .instruction_limit = CONFIG_SCALE_WASM_INSTRUCTION_LIMIT,
                               .on_instantiated = on_instantiated};
    CHECK(wasm_host_start(&host) == ESP_OK, "the core did not start");
    size_t cap;
    memcpy(wasm_host_io(&cap), DEVICE, strlen(DEVICE));
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, (int32_t)strlen(DEVICE), 0) == 0, "device id refused");

    QueueHandle_t events = xQueueCreate(NET_EVENTS, sizeof(scale_mqtt_event_t));
    scale_mqtt_config_t config = {.uri = "mqtts://broker.example:8883", .client_id = DEVICE, .subscriptions = {CMD_TOPIC, NULL, NULL},
                                  .lost_topic = RESULT_TOPIC};
    CHECK(scale_mqtt_start(&config, events) == ESP_OK, "the link did not start"); /* and esp-mqtt's task with it */
    pthread_t net;
    CHECK(pthread_create(&net, NULL, net_task, NULL) == 0, "pthread_create"); /* main.c's "net" task */

    scale_mqtt_event_t e;
    if (strcmp(s_case, "message-burst") == 0) {
        /* The core's task is busy until esp-mqtt's task has to wait, three times over the burst. */
        for (int pause = 0; pause < 3; pause++) {
            until_producer_waits(1);
            for (int taken = 0; taken < 20 && xQueueReceive(events, &e, 0) == pdTRUE; taken++) take(&e);
        }
        while (!s_script_done) {
            if (xQueueReceive(events, &e, 100) == pdTRUE) take(&e);
        }
        while (xQueueReceive(events, &e, 0) == pdTRUE) take(&e);
        pthread_join(s_mqtt_task, NULL);
        CHECK(s_producer_waits >= 3, "esp-mqtt's task never waited: the burst fitted (%d waits)", s_producer_waits);
        CHECK(s_acknowledged == COMMANDS, "%d of %d commands acknowledged", s_acknowledged, COMMANDS);
        CHECK(s_messages == COMMANDS, "%d of %d acknowledged commands reached the core", s_messages, COMMANDS);
        for (int i = 0; i < COMMANDS; i++) CHECK(s_answered[i], "command b%d was acknowledged and never answered", i);
        CHECK(s_connected == 2 && s_disconnected == 1, "%d connections and %d disconnections seen, of 2 and 1", s_connected, s_disconnected);
        CHECK(s_subscribed == 2, "%d subscriptions acknowledged, of 2", s_subscribed);
        CHECK(s_published == COMMANDS / 10, "%d PUBACKs seen, of %d", s_published, COMMANDS / 10);
        printf("message-burst: %d commands in one burst (esp-mqtt's task waited %d times for room), %d answered by the core; "
               "2 connections, 1 disconnection, 2 SUBACKs, %d PUBACKs, none lost\n", COMMANDS, s_producer_waits, s_answers, s_published);
    } else if (strcmp(s_case, "stalled-core") == 0) {
        /* The core's task takes nothing until esp-mqtt's task has sent all it could. */
        until_step(1);
        while (xQueueReceive(events, &e, 0) == pdTRUE) take(&e);
        step_to(2);
        until_step(3);
        pthread_join(s_mqtt_task, NULL);
        while (xQueueReceive(events, &e, 0) == pdTRUE) take(&e);
        /* The network task hands the answer to esp-mqtt when it gets to it. */
        struct timespec until;
        deadline_in(&until, 60000);
        pthread_mutex_lock(&s_lost_lock);
        while (s_lost_answers == 0) CHECK(pthread_cond_timedwait(&s_lost_changed, &s_lost_lock, &until) != ETIMEDOUT, "the loss was never answered");
        CHECK(s_lost_answers == 1, "%d answers saying a message was lost, of 1", s_lost_answers);
        pthread_mutex_unlock(&s_lost_lock);
        CHECK(s_answered[0] && s_answered[1] && s_answered[2] && s_answered[3], "a message that had a slot was not answered");
        CHECK(!s_answered[4], "the fifth message reached the core though no slot was free for 5 s");
        CHECK(s_answered[5], "the message after the loss did not get through: the link went deaf");
        printf("stalled-core: 4 messages in the 4 slots answered, the 5th lost after the link's 5 s wait (logged, and answered \"lost\" "
               "on the result topic), the next one answered\n");
    } else {
        CHECK(false, "unknown case %s", s_case);
    }
    printf("PASS %s\n", s_case);
    return 0;
}
