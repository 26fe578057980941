#!/bin/sh
# azd postdeploy hook: subscribes the gate to the registry's Event Grid system topic, which
# retries a lost arrival for 24 hours. It runs after deploy because Event Grid validates the
# endpoint (an OPTIONS handshake) when the subscription is created, and only deployed code answers.
# The receiver takes a webhook token in ?token= (no function key needed). Idempotent.
set -eu

if [ -z "${REGISTRY_NAME:-}" ]; then
  echo "postdeploy: REGISTRY_NAME not set, no Event Grid subscription"
  exit 0
fi

registry_id=$(az acr show --name "$REGISTRY_NAME" --resource-group "$REGISTRY_RESOURCE_GROUP" --query id -o tsv)
registry_location=$(az acr show --name "$REGISTRY_NAME" --resource-group "$REGISTRY_RESOURCE_GROUP" --query location -o tsv)

# A source has at most one system topic: reuse the registry's if it has one.
topic=$(az eventgrid system-topic list --query "[?source=='$registry_id'] | [0].name" -o tsv)
topic_group=$(az eventgrid system-topic list --query "[?source=='$registry_id'] | [0].resourceGroup" -o tsv)
if [ -z "$topic" ]; then
  topic="evgt-$REGISTRY_NAME"
  topic_group="$REGISTRY_RESOURCE_GROUP"
  az eventgrid system-topic create --name "$topic" --resource-group "$topic_group" \
    --location "$registry_location" --topic-type Microsoft.ContainerRegistry.Registries \
    --source "$registry_id" --output none
fi

# The first webhook token; never printed.
token=$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name webhook-tokens \
  --query value -o tsv | cut -d, -f1)

az eventgrid system-topic event-subscription create --name acr-replication-gate \
  --resource-group "$topic_group" --system-topic-name "$topic" \
  --endpoint "https://$SERVICE_API_HOSTNAME/api/webhooks/eventgrid?token=$token" \
  --included-event-types Microsoft.ContainerRegistry.ImagePushed Microsoft.ContainerRegistry.ImageDeleted \
  --event-delivery-schema cloudeventschemav1_0 --max-delivery-attempts 30 --event-ttl 1440 \
  --output none
echo "postdeploy: Event Grid system topic $topic delivers to https://$SERVICE_API_HOSTNAME/api/webhooks/eventgrid"
