// Deployed into the registry's resource group when registryName is given: the app's rights on the
// registry, and one webhook per replica region pointing at the app's regional route.
param registryName string
param identityPrincipalId string
param regions array
param webhookNames array
param appBaseUrl string
@secure()
param webhookToken string

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

// The gate reads multi-platform indexes and, with verification on, each region's manifests.
resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityPrincipalId, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Reconciliation lists the webhooks and their recent events; Reader lacks the listEvents action,
// and nothing broader is needed.
resource eventReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(registry.id, 'acr-replication-gate-webhook-event-reader')
  properties: {
    roleName: 'ACR webhook event reader (${registryName})'
    description: 'Lists the webhooks of a registry and their recent events (acr-replication-gate reconciliation).'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerRegistry/registries/webhooks/read'
          'Microsoft.ContainerRegistry/registries/webhooks/listEvents/action'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource readEvents 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityPrincipalId, eventReader.id)
  scope: registry
  properties: {
    roleDefinitionId: eventReader.id
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ACR's payload does not say which region sent it, so each replica gets its own webhook, created
// in that region, posting to /api/webhooks/acr/{region} with a webhook token.
resource webhooks 'Microsoft.ContainerRegistry/registries/webhooks@2023-07-01' = [
  for (region, i) in regions: {
    parent: registry
    name: webhookNames[i]
    location: region
    properties: {
      serviceUri: '${appBaseUrl}/api/webhooks/acr/${region}'
      customHeaders: {
        Authorization: 'Bearer ${webhookToken}'
      }
      actions: [
        'push'
        'delete'
      ]
      scope: ''
      status: 'enabled'
    }
  }
]

output webhookNames array = [for (region, i) in regions: webhooks[i].name]
