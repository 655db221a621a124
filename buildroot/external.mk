include $(sort $(wildcard $(BR2_EXTERNAL_MULTIMSG_PATH)/package/*/*.mk))
